# The huis hub (and its simulated devices) as a container. Used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY controller controller
COPY devices devices
COPY simulators simulators
COPY dashboard dashboard
COPY huis huis
RUN pip install --no-cache-dir .
COPY config config
COPY scenarios scenarios
# Runs as an unprivileged user. It owns var/ (database, broker passwords: a volume) and broker/
# (the password and ACL files it hands to mosquitto: another volume); nothing else is writable.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin huis \
    && mkdir -p /app/var /app/broker \
    && chown huis:huis /app/var /app/broker
USER huis
EXPOSE 8080
ENTRYPOINT ["huis"]
# The same demo as `make demo`, against the compose file's mosquitto (docker-compose.yml).
CMD ["demo", "--config", "config/home.yaml", "--mqtt-host", "mosquitto", "--dashboard-host", "0.0.0.0"]
