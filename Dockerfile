# One image carries every process: `docker run IMAGE ingress|relay|notifier|files`
# (docker-compose.yml runs them). Configuration: environment variables only.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The wheel, not the source tree: the image holds only what runs.
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin bot
USER bot
WORKDIR /tmp
# /healthz and /metrics (README, "Logs and metrics"). METRICS_PORT=0 turns them
# off, and then this healthcheck fails. docker-compose.yml repeats it.
ENV METRICS_PORT=9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['METRICS_PORT'], timeout=3)"]
ENTRYPOINT ["telegram-bot"]
CMD ["--help"]
