"""The pure sync core: no I/O, no airflow, no requests, no msal. Hooks read, this decides."""
