"""What a ``.fer.zip`` file may hold: every bound is checked before the part it bounds is read,
parsed or built, so a file from anyone costs at most these to refuse.

The shipped single network is a 7.3 MB ``.keras`` archive whose ``config.json`` is 38 KB and
declares 45 layers and 1.8 million parameters; an ensemble holds five such. Each bound leaves
room for much larger FER networks.
"""

# The outer archive.
MAX_NETWORK_BYTES = 256 << 20  # the networks of a file together, uncompressed
MAX_DESCRIPTION_BYTES = 16 << 20  # fer_estimator.json
# A member (of the outer archive or of a network's .keras archive) expanding more than this
# many times, once larger than the floor, is a zip bomb: a Keras network hardly compresses.
MAX_COMPRESSION_RATIO = 100
COMPRESSION_RATIO_FLOOR = 1 << 20
# How deeply lists and dicts nest in fer_estimator.json (about 8 levels).
MAX_NESTING = 32

# Each network's .keras archive, checked before Keras reads it.
MAX_KERAS_CONFIG_BYTES = 4 << 20  # its config.json
MAX_KERAS_METADATA_BYTES = 64 << 10  # its metadata.json
MAX_KERAS_CONFIG_NESTING = 64  # a Keras config nests about 12 levels per nested model
MAX_LAYERS = 1000
# Weights the config declares, counted from its layers' configurations and input shapes:
# 64 million float32 weights are the 256 MiB of MAX_NETWORK_BYTES.
MAX_PARAMETERS = 64_000_000

# What the description and the networks describe.
MAX_IMAGE_SIDE = 1024  # pixels a side of the images a network takes
MAX_CHANNELS = 4
MAX_CLASSES = 1000
