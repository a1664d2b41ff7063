"""Process runtime, independent of the application: the embedded mongod, giving freed memory back to the
system, and the gunicorn workers' own listening sockets (``worker_sockets``, used by the master through
``app/gunicorn_conf.py``). Imports no package of the project."""
