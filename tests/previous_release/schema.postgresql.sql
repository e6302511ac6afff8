CREATE TABLE cohort (
	id SERIAL NOT NULL, 
	slug VARCHAR(80) NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	capacity INTEGER NOT NULL, 
	starts_on DATE NOT NULL, 
	timezone VARCHAR(64) NOT NULL, 
	location VARCHAR(300) NOT NULL, 
	application_deadline DATE, 
	applications_open BOOLEAN NOT NULL, 
	fee_text VARCHAR(500), 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (slug)
);

CREATE TABLE admin (
	id SERIAL NOT NULL, 
	email VARCHAR(254) NOT NULL, 
	display_name VARCHAR(100) NOT NULL, 
	password_hash VARCHAR(300) NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	last_login_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	UNIQUE (email)
);

CREATE TABLE meeting (
	id SERIAL NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	sequence INTEGER NOT NULL, 
	starts_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	ends_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	location VARCHAR(300) NOT NULL, 
	revision INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT meeting_kind CHECK (kind IN ('preparation', 'ketamine', 'integration')), 
	UNIQUE (cohort_id, kind, sequence), 
	FOREIGN KEY(cohort_id) REFERENCES cohort (id)
);

CREATE INDEX ix_meeting_cohort_id ON meeting (cohort_id);

CREATE TABLE application (
	id SERIAL NOT NULL, 
	cohort_id INTEGER NOT NULL, 
	token VARCHAR(64) NOT NULL, 
	submission_id VARCHAR(64), 
	first_name VARCHAR(100) NOT NULL, 
	last_name VARCHAR(100) NOT NULL, 
	email VARCHAR(254) NOT NULL, 
	email_key VARCHAR(254) NOT NULL, 
	phone VARCHAR(40) NOT NULL, 
	pronouns VARCHAR(60), 
	home_area VARCHAR(200) NOT NULL, 
	answers TEXT NOT NULL, 
	consent_version VARCHAR(40) NOT NULL, 
	consented_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	health_consent_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	knows_applicants TEXT, 
	referral VARCHAR(200), 
	status VARCHAR(20) NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	status_changed_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	accepted_at TIMESTAMP WITHOUT TIME ZONE, 
	waitlisted_at TIMESTAMP WITHOUT TIME ZONE, 
	declined_at TIMESTAMP WITHOUT TIME ZONE, 
	enrolled_at TIMESTAMP WITHOUT TIME ZONE, 
	withdrawn_at TIMESTAMP WITHOUT TIME ZONE, 
	confirm_by DATE, 
	PRIMARY KEY (id), 
	CONSTRAINT application_status CHECK (status IN ('pending', 'waitlisted', 'accepted', 'enrolled', 'declined', 'withdrawn')), 
	FOREIGN KEY(cohort_id) REFERENCES cohort (id), 
	UNIQUE (token), 
	UNIQUE (submission_id)
);

CREATE INDEX ix_application_cohort_id ON application (cohort_id);

CREATE UNIQUE INDEX one_active_application_per_email ON application (cohort_id, email_key) WHERE status IN ('pending', 'waitlisted', 'accepted', 'enrolled');

CREATE INDEX ix_application_email_key ON application (email_key);

CREATE TABLE outbox_message (
	id SERIAL NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	dedupe_key VARCHAR(300) NOT NULL, 
	to_address VARCHAR(254) NOT NULL, 
	subject VARCHAR(300) NOT NULL, 
	text_body TEXT NOT NULL, 
	html_body TEXT NOT NULL, 
	attachments JSON NOT NULL, 
	application_id INTEGER, 
	status VARCHAR(10) NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	locked_until TIMESTAMP WITHOUT TIME ZONE, 
	claimed_by VARCHAR(32), 
	last_error TEXT, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	sent_at TIMESTAMP WITHOUT TIME ZONE, 
	PRIMARY KEY (id), 
	CONSTRAINT outbox_status CHECK (status IN ('queued', 'sending', 'sent', 'failed')), 
	UNIQUE (dedupe_key), 
	FOREIGN KEY(application_id) REFERENCES application (id) ON DELETE SET NULL
);

CREATE INDEX ix_outbox_message_application_id ON outbox_message (application_id);

CREATE INDEX outbox_due ON outbox_message (status, next_attempt_at);

CREATE TABLE note (
	id SERIAL NOT NULL, 
	application_id INTEGER NOT NULL, 
	admin_id INTEGER NOT NULL, 
	body TEXT NOT NULL, 
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(application_id) REFERENCES application (id), 
	FOREIGN KEY(admin_id) REFERENCES admin (id)
);

CREATE INDEX ix_note_application_id ON note (application_id);

CREATE TABLE audit_event (
	id SERIAL NOT NULL, 
	at TIMESTAMP WITHOUT TIME ZONE NOT NULL, 
	actor VARCHAR(20) NOT NULL, 
	admin_id INTEGER, 
	action VARCHAR(40) NOT NULL, 
	application_id INTEGER, 
	cohort_id INTEGER, 
	from_status VARCHAR(20), 
	to_status VARCHAR(20), 
	detail VARCHAR(300), 
	PRIMARY KEY (id), 
	FOREIGN KEY(admin_id) REFERENCES admin (id), 
	FOREIGN KEY(application_id) REFERENCES application (id), 
	FOREIGN KEY(cohort_id) REFERENCES cohort (id)
);

CREATE INDEX ix_audit_event_admin_id ON audit_event (admin_id);

CREATE INDEX ix_audit_event_application_id ON audit_event (application_id);

CREATE INDEX ix_audit_event_at ON audit_event (at);

CREATE INDEX ix_audit_event_cohort_id ON audit_event (cohort_id);

CREATE INDEX ix_audit_event_action ON audit_event (action);
