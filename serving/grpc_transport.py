"""The gRPC calls of the serving client's `client.GrpcTransport`: TF Serving's PredictionService.

Their own module because they need grpcio, tensorflow and tensorflow-serving-api (whose protos
import TensorFlow's), which the REST transport does not: GrpcTransport imports this module only
when it is created. It imports nothing from `client`, which may be running as `__main__`.
"""

import grpc
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

# What the calls raise on a failed call; GrpcTransport explains it from its code() and details().
RpcError = grpc.RpcError
# gRPC clients refuse answers over 4 MB by default (16 float images of 128 px are 3 MB); TF Serving
# itself accepts messages up to 2 GB.
_GRPC_OPTIONS = [('grpc.max_receive_message_length', -1),
                 ('grpc.max_send_message_length', -1)]


def _dtype_names(tensors):
  """{tensor name: DataType name, e.g. 'DT_FLOAT'} of a SignatureDef's inputs or outputs."""
  return {name: types_pb2.DataType.Name(info.dtype) for name, info in tensors.items()}


class PredictionStub:
  """GetModelMetadata and Predict of one model (one version, or the latest) over a channel."""

  def __init__(self, server, model, version):
    self._model = model
    self._version = version
    self._channel = grpc.insecure_channel(server, options=_GRPC_OPTIONS)
    self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

  def close(self):
    self._channel.close()

  def _fill_spec(self, model_spec, signature=''):
    model_spec.name = self._model
    if self._version is not None:
      model_spec.version.value = self._version
    model_spec.signature_name = signature

  def get_signatures(self, timeout):
    """(served version, {signature name: (input dtype names, output dtype names)})."""
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=['signature_def'])
    self._fill_spec(request.model_spec)
    response = self._stub.GetModelMetadata(request, timeout=timeout)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata['signature_def'].Unpack(signature_map)
    return response.model_spec.version.value, {
        name: (_dtype_names(signature_def.inputs), _dtype_names(signature_def.outputs))
        for name, signature_def in signature_map.signature_def.items()}

  def predict(self, signature, inputs, timeout):
    """Runs `signature` on {input name: array}; returns {output name: array}."""
    request = predict_pb2.PredictRequest()
    self._fill_spec(request.model_spec, signature)
    for key, value in inputs.items():
      request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    response = self._stub.Predict(request, timeout=timeout)
    # make_ndarray reads both answer forms: typed fields (TF Serving's Predict) and tensor_content.
    return {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}
