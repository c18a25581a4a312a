"""Worker: the job engine's app and the worker process.

`app` gathers every concern's procrastinate Blueprint into one App (and re-queues stalled jobs);
`process` serves it with one thread per call for BLAS and OpenCV. A face: may import the domain
packages and below; nothing but the CLI imports it.
"""
