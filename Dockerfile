# Airflow 3.3 with this provider installed (used by docker-compose.yml).
FROM apache/airflow:3.3.2
COPY --chown=airflow:0 pyproject.toml README.md /opt/oh-outlook-provider/
COPY --chown=airflow:0 oh_outlook_provider /opt/oh-outlook-provider/oh_outlook_provider
RUN pip install --no-cache-dir /opt/oh-outlook-provider
