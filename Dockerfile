# The huis hub (and its simulators) as a container. Used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY controller controller
COPY devices devices
COPY simulators simulators
COPY dashboard dashboard
RUN pip install --no-cache-dir .
COPY config config
COPY scenarios scenarios
EXPOSE 8080
ENTRYPOINT ["huis"]
CMD ["run", "--config", "config/home.yaml", "--mqtt-host", "mosquitto"]
