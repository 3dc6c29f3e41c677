# The pipeline image: one image for the Kubeflow / Vertex steps and the Dataflow workers.
#
# It is built on Apache Beam's SDK image of the locked Beam version: Beam's worker boot
# (/opt/apache/beam, the entrypoint) comes from it, as Beam's custom-container guide does
# it, onto a slim Python without compilers or other build tools. Dataflow can therefore run
# it as its worker image (--sdk_container_image). The pipeline steps do not use the
# entrypoint: the compiled spec gives each step TFX's container command
# (kubeflow_v2_run_executor, ExampleGen's driver).
#
#   make image                      # CPU:  REGISTRY/recsearch:TAG
#   make image VARIANT=gpu          # GPU:  REGISTRY/recsearch:TAG-gpu (TensorFlow's CUDA wheels)
#
# The GPU variant adds tensorflow[and-cuda] at the locked TensorFlow version; the Trainer
# step uses it when kubeflow.trainer.accelerator asks for a GPU (see docs/kubeflow.md).
ARG BEAM_VERSION=2.60.0
FROM apache/beam_python3.10_sdk:${BEAM_VERSION} AS beam

FROM python:3.10-slim-bookworm
COPY --from=beam /opt/apache/beam /opt/apache/beam

ARG VARIANT=cpu
ARG TENSORFLOW_VERSION=2.16.2

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=1

WORKDIR /pipeline
COPY requirements/lock.txt requirements/lock.txt
RUN pip install -r requirements/lock.txt \
    && if [ "$VARIANT" = "gpu" ]; then \
         pip install "tensorflow[and-cuda]==${TENSORFLOW_VERSION}" -c requirements/lock.txt; \
       fi

COPY setup.py pyproject.toml README.md ./
COPY recsearch recsearch
COPY pipeline pipeline
COPY components components
COPY modules modules
COPY kubeflow kubeflow
COPY apps apps
COPY schemas schemas
# Installed, not run from the source tree: every class path in the compiled spec (the
# executors, run_fn, the `system` artifact types) must import from site-packages.
# recsearch_object_store.pth: with RECSEARCH_OBJECT_STORE=s3, every Python process (TFX's
# own executors included) loads the s3:// filesystem (recsearch/storage.py says why).
# recsearch_beam_fixes.pth: every process that runs Beam's local runner (StatisticsGen and
# Transform too) gets the fix for its data-loss race (recsearch/beam_fixes.py).
RUN pip install --no-deps . \
    && cp kubeflow/recsearch_object_store.pth kubeflow/recsearch_beam_fixes.pth \
       "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/" \
    && rm -rf /pipeline/recsearch /pipeline/pipeline /pipeline/components /pipeline/modules \
       /pipeline/kubeflow /pipeline/apps \
    && python -c "import recsearch.modules.trainer, recsearch.components.recsys_example_gen.executor, system"

# No root at run time.
RUN groupadd --gid 1000 recsearch && useradd --uid 1000 --gid 1000 --create-home recsearch
USER 1000:1000
ENV HOME=/home/recsearch
WORKDIR /home/recsearch

# Beam's worker boot, for Dataflow; Kubeflow and Vertex steps give their own command.
ENTRYPOINT ["/opt/apache/beam/boot"]
