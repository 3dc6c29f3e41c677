# The pipeline image for Kubeflow Pipelines: TFX 1.16 and recsearch installed as a package,
# so every module path in the compiled spec (recsearch.modules.trainer.run_fn, the custom
# executors) imports inside the container.
#
#   docker build -t REGISTRY/recsearch:0.1.0 .
#   docker push REGISTRY/recsearch:0.1.0
FROM python:3.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_USE_LEGACY_KERAS=1

WORKDIR /pipeline
COPY requirements/lock.txt requirements/lock.txt
RUN pip install -r requirements/lock.txt

COPY setup.py pyproject.toml README.md ./
COPY recsearch recsearch
COPY pipeline pipeline
COPY components components
COPY modules modules
COPY kubeflow kubeflow
COPY schemas schemas
RUN pip install --no-deps . && python -c "import recsearch.modules.trainer, recsearch.components.recsys_example_gen.executor"
# No ENTRYPOINT: the compiled spec gives each step TFX's container command
# (tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor and the driver).
