"""TF Serving deployment of the exported generator: server configuration and a gRPC/REST client."""
