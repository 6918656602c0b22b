# Two images from one file:
#   sandbox     the emulator (Entra ID + Graph + openHandwerk) for docker-compose's `sandbox` service; developer
#               tooling from the checkout (devtools/), never in the product. `--target sandbox`.
#   airflow     Airflow (3.3.2 unless --build-arg AIRFLOW_VERSION=3.1.8 etc.: every 3.x line from 3.0.6) with this
#               provider installed: the wheel's files only. The default: keep this stage last, so a
#               plain `docker build .` builds it (compose names it too).

ARG AIRFLOW_VERSION=3.3.2

FROM python:3.11-slim AS sandbox
WORKDIR /opt/oh-outlook-sandbox
# The emulator's dependencies are the `devtools` extra of pyproject.toml, installed without the provider (and
# without Airflow): the emulator reads only the package's Graph vocabulary (schema JSON, zone names) from the tree.
COPY pyproject.toml ./
RUN python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['devtools'], sep=chr(10))" > requirements.txt \
    && pip install --no-cache-dir -r requirements.txt
COPY oh_outlook_provider/__init__.py oh_outlook_provider/
COPY oh_outlook_provider/graph oh_outlook_provider/graph
COPY devtools devtools
ENV PYTHONPATH=/opt/oh-outlook-sandbox PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["python", "-m", "devtools.sandbox", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8443"]

# The production image: only what the wheel holds (pyproject.toml, README.md, oh_outlook_provider/).
FROM apache/airflow:${AIRFLOW_VERSION} AS airflow
COPY --chown=airflow:0 pyproject.toml README.md /opt/oh-outlook-provider/
COPY --chown=airflow:0 oh_outlook_provider /opt/oh-outlook-provider/oh_outlook_provider
RUN pip install --no-cache-dir /opt/oh-outlook-provider
