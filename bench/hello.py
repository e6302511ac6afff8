"""A bare Flask "hello", served by bench/run under the very same gunicorn settings as the site:
the ceiling every page's requests/s is compared with."""
from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello():
    return "Hello, world!"
