"""ember.nn: modules, layers, containers, initialisation and the functional API.

Flow: a model is a ``Module`` tree; assigning Parameters and submodules registers them;
``model(x)`` runs ``forward`` (with hooks); layers delegate their math to
``ember.nn.functional``; ``ember.nn.init`` fills parameters in place.
"""

from __future__ import annotations

from ember.nn import functional, init, modules, parallel, utils
from ember.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from ember.nn.layers.activation import *  # noqa: F403
from ember.nn.layers.activation import __all__ as _activation_all
from ember.nn.layers.attention import MultiheadAttention
from ember.nn.layers.channelshuffle import ChannelShuffle
from ember.nn.layers.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from ember.nn.layers.distance import CosineSimilarity, PairwiseDistance
from ember.nn.layers.dropout import (
    AlphaDropout,
    Dropout,
    Dropout1d,
    Dropout2d,
    Dropout3d,
    FeatureAlphaDropout,
)
from ember.nn.layers.embedding import Embedding, EmbeddingBag
from ember.nn.layers.flatten import Flatten, Unflatten
from ember.nn.layers.fold import Fold, Unfold
from ember.nn.layers.lazy import *  # noqa: F403
from ember.nn.layers.lazy import __all__ as _lazy_all
from ember.nn.layers.linear import Bilinear, Identity, Linear
from ember.nn.layers.loss import *  # noqa: F403
from ember.nn.layers.loss import __all__ as _loss_all
from ember.nn.layers.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
    LayerNorm,
    LocalResponseNorm,
    RMSNorm,
)
from ember.nn.layers.padding import *  # noqa: F403
from ember.nn.layers.padding import __all__ as _padding_all
from ember.nn.layers.pixelshuffle import PixelShuffle, PixelUnshuffle
from ember.nn.layers.pooling import *  # noqa: F403
from ember.nn.layers.pooling import __all__ as _pooling_all
from ember.nn.layers.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from ember.nn.layers.regularization import ActivityRegularizer, GaussianNoise
from ember.nn.layers.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from ember.nn.layers.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from ember.nn.module import Module, RemovableHandle
from ember.nn.parallel import DataParallel, SyncBatchNorm
from ember.nn.parameter import Buffer, Parameter

__all__ = [
    "functional",
    "init",
    "utils",
    "modules",
    "parallel",
    "DataParallel",
    "SyncBatchNorm",
    "Module",
    "RemovableHandle",
    "Parameter",
    "Buffer",
    "Sequential",
    "ModuleList",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "Identity",
    "Linear",
    "Bilinear",
    "Flatten",
    "Unflatten",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
    "Fold",
    "Unfold",
    "CosineSimilarity",
    "PairwiseDistance",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "GroupNorm",
    "RMSNorm",
    "LocalResponseNorm",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "FeatureAlphaDropout",
    "Embedding",
    "EmbeddingBag",
    "Upsample",
    "UpsamplingNearest2d",
    "UpsamplingBilinear2d",
    "PixelShuffle",
    "PixelUnshuffle",
    "ChannelShuffle",
    "RNN",
    "LSTM",
    "GRU",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "GaussianNoise",
    "ActivityRegularizer",
    "MultiheadAttention",
    "Transformer",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerDecoder",
    *_activation_all,
    *_loss_all,
    *_padding_all,
    *_pooling_all,
    *_lazy_all,
]
