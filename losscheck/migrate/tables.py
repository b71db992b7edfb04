"""What ``losscheck migrate`` rewrites besides backend calls: Keras 2 modules, names and arguments
that Keras 3 moved, renamed or dropped. Data only; every entry was checked against the real
packages (Keras 3.15.1 and tf-keras 2.21.0) and a test compares the name lists with the installed
Keras 3 (``tests/migrate/test_migrate_tables.py``).
"""

from __future__ import annotations

# Public names of Keras 3.15.1's modules that Keras 2 imports move to (`dir(module)`).
KERAS3_LAYERS: frozenset[str] = frozenset({
    'Activation', 'ActivityRegularization', 'AdaptiveAveragePooling1D', 'AdaptiveAveragePooling2D',
    'AdaptiveAveragePooling3D', 'AdaptiveMaxPooling1D', 'AdaptiveMaxPooling2D', 'AdaptiveMaxPooling3D',
    'Add', 'AdditiveAttention', 'AlphaDropout', 'Attention', 'AugMix', 'AutoContrast', 'Average',
    'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D', 'AvgPool1D', 'AvgPool2D', 'AvgPool3D',
    'BatchNormalization', 'Bidirectional', 'CategoryEncoding', 'CenterCrop', 'Concatenate',
    'ContrastLimitedAdaptiveHistogramEqualization', 'Conv1D', 'Conv1DTranspose', 'Conv2D',
    'Conv2DTranspose', 'Conv3D', 'Conv3DTranspose', 'ConvLSTM1D', 'ConvLSTM2D', 'ConvLSTM3D',
    'Convolution1D', 'Convolution1DTranspose', 'Convolution2D', 'Convolution2DTranspose', 'Convolution3D',
    'Convolution3DTranspose', 'Cropping1D', 'Cropping2D', 'Cropping3D', 'CutMix', 'Dense',
    'DepthwiseConv1D', 'DepthwiseConv2D', 'Discretization', 'Dot', 'Dropout', 'ELU', 'EinsumDense',
    'Embedding', 'Equalization', 'Flatten', 'FlaxLayer', 'GRU', 'GRUCell', 'GaussianDropout',
    'GaussianNoise', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D', 'GlobalAveragePooling3D',
    'GlobalAvgPool1D', 'GlobalAvgPool2D', 'GlobalAvgPool3D', 'GlobalMaxPool1D', 'GlobalMaxPool2D',
    'GlobalMaxPool3D', 'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'GlobalMaxPooling3D',
    'GroupNormalization', 'GroupQueryAttention', 'HashedCrossing', 'Hashing', 'Identity', 'Input',
    'InputLayer', 'InputSpec', 'IntegerLookup', 'JaxLayer', 'LSTM', 'LSTMCell', 'Lambda', 'Layer',
    'LayerNormalization', 'LeakyReLU', 'Masking', 'MaxNumBoundingBoxes', 'MaxPool1D', 'MaxPool2D',
    'MaxPool3D', 'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'Maximum', 'MelSpectrogram', 'Minimum',
    'MixUp', 'MultiHeadAttention', 'Multiply', 'Normalization', 'PReLU', 'Permute', 'Pipeline',
    'RMSNormalization', 'RNN', 'RandAugment', 'RandomBrightness', 'RandomColorDegeneration',
    'RandomColorJitter', 'RandomContrast', 'RandomCrop', 'RandomElasticTransform', 'RandomErasing',
    'RandomFlip', 'RandomGaussianBlur', 'RandomGrayscale', 'RandomHue', 'RandomInvert', 'RandomPerspective',
    'RandomPosterization', 'RandomRotation', 'RandomSaturation', 'RandomSharpness', 'RandomShear',
    'RandomTranslation', 'RandomZoom', 'ReLU', 'RepeatVector', 'Rescaling', 'Reshape', 'Resizing',
    'ReversibleEmbedding', 'STFTSpectrogram', 'SeparableConv1D', 'SeparableConv2D',
    'SeparableConvolution1D', 'SeparableConvolution2D', 'SimpleRNN', 'SimpleRNNCell', 'Softmax',
    'Solarization', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D', 'SpectralNormalization',
    'StackedRNNCells', 'StringLookup', 'Subtract', 'TFSMLayer', 'TextVectorization', 'TimeDistributed',
    'TorchModuleWrapper', 'UnitNormalization', 'UpSampling1D', 'UpSampling2D', 'UpSampling3D', 'Wrapper',
    'ZeroPadding1D', 'ZeroPadding2D', 'ZeroPadding3D', 'add', 'average', 'concatenate', 'deserialize',
    'dot', 'maximum', 'minimum', 'multiply', 'serialize', 'subtract'
})
KERAS3_UTILS: frozenset[str] = frozenset({
    'Config', 'CustomObjectScope', 'FeatureSpace', 'Progbar', 'PyDataset', 'Sequence', 'array_to_img',
    'audio_dataset_from_directory', 'bounding_boxes', 'clear_session', 'custom_object_scope',
    'deserialize_keras_object', 'disable_interactive_logging', 'enable_interactive_logging',
    'get_custom_objects', 'get_file', 'get_registered_name', 'get_registered_object', 'get_source_inputs',
    'image_dataset_from_directory', 'img_to_array', 'is_interactive_logging_enabled', 'is_keras_tensor',
    'legacy', 'load_img', 'model_to_dot', 'normalize', 'pack_x_y_sample_weight', 'pad_sequences',
    'plot_model', 'register_keras_serializable', 'save_img', 'serialize_keras_object', 'set_random_seed',
    'split_dataset', 'standardize_dtype', 'text_dataset_from_directory', 'timeseries_dataset_from_array',
    'to_categorical', 'unpack_x_y_sample_weight'
})

# Keras 2 modules whose names Keras 3 has in another module (every name checked against the lists
# above, or the loss names below, when it is rewritten).
MODULE_MOVES: dict[str, str] = {
    "keras.utils.np_utils": "keras.utils",
    "keras.utils.generic_utils": "keras.utils",
    "keras.objectives": "keras.losses",
    **{f"keras.layers.{kind}": "keras.layers" for kind in (
        "core", "merge", "convolutional", "convolutional_recurrent", "recurrent", "advanced_activations",
        "normalization", "embeddings", "pooling", "wrappers", "noise", "local")},
}
# keras.engine (and its submodules) -> where each name lives in Keras 3.
ENGINE_NAMES: dict[str, str] = {
    "Layer": "keras.layers", "InputSpec": "keras.layers", "InputLayer": "keras.layers",
    "Model": "keras", "Sequential": "keras", "Input": "keras",
}
ENGINE_MODULES = ("keras.engine", "keras.engine.topology", "keras.engine.base_layer", "keras.engine.training",
                  "keras.engine.input_layer", "keras.engine.sequential", "keras.engine.input_spec",
                  "keras.engine.functional")

# Loss and metric function aliases Keras 3 dropped (tf_keras.losses has them, keras.losses not).
LOSS_ALIASES: dict[str, str] = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error",
    "mae": "mean_absolute_error", "MAE": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error", "MAPE": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "MSLE": "mean_squared_logarithmic_error",
    "kld": "kl_divergence", "KLD": "kl_divergence", "kullback_leibler_divergence": "kl_divergence",
    "logcosh": "log_cosh",
}
ALIAS_MODULES = ("keras.losses", "keras.metrics", "keras.objectives")

# The reduction enums (Keras 3 takes the strings; tf_keras's enum members are those strings).
# AUTO meant sum_over_batch_size outside distribution strategies' custom training loops.
REDUCTION_ENUMS = ("keras.losses.Reduction", "tensorflow.keras.losses.Reduction",
                   "keras.utils.losses_utils.ReductionV2", "tensorflow.python.keras.utils.losses_utils.ReductionV2",
                   "keras.src.utils.losses_utils.ReductionV2")
REDUCTIONS: dict[str, str] = {
    "SUM_OVER_BATCH_SIZE": "sum_over_batch_size", "SUM": "sum", "NONE": "none", "AUTO": "sum_over_batch_size",
}

# Positional parameters whose order Keras 3 changed: callee -> Keras 2's order. A call that passes
# them by position from `first` on gets keywords (Keras 3 would read them as other parameters).
REORDERED: dict[str, tuple[int, tuple[str, ...]]] = {
    # Keras 2 (y_true, y_pred, from_logits, axis, ignore_class); Keras 3 (..., from_logits, ignore_class, axis)
    "keras.losses.sparse_categorical_crossentropy": (3, ("y_true", "y_pred", "from_logits", "axis", "ignore_class")),
    "keras.metrics.sparse_categorical_crossentropy": (3, ("y_true", "y_pred", "from_logits", "axis", "ignore_class")),
    # Keras 2 (from_logits, ignore_class, reduction, name); Keras 3 (..., reduction, axis, name, dtype)
    "keras.losses.SparseCategoricalCrossentropy": (3, ("from_logits", "ignore_class", "reduction", "name")),
    # Keras 2 Loss(reduction, name); Keras 3 Loss(name, reduction, dtype)
    "keras.losses.Loss": (0, ("reduction", "name")),
}
LOSS_BASES = ("keras.losses.Loss", "tensorflow.keras.losses.Loss")
