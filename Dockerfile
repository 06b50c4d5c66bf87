# The dicom-graph image used by docker-compose.yml (dashboard and loader services).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY cli ./cli
COPY model ./model
COPY loader ./loader
COPY dashboard ./dashboard
RUN pip install --no-cache-dir . && useradd --create-home dicomgraph \
    && mkdir /reports && chown dicomgraph /reports
USER dicomgraph
WORKDIR /home/dicomgraph
EXPOSE 8501
CMD ["dicom-graph", "--help"]
