"""One job each, called by the Airflow shell of the same name (operators/, sensors/, triggers/)."""
