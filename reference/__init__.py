"""The reference engine: TensorFlow/Keras computes every expected answer, live.

One module per kata topic, with the same stem as ``katas/`` and
``solutions/`` (``reference/activations.py`` answers ``katas/activations.py``).
Every function takes NumPy inputs, runs the real TensorFlow or Keras operation
in float64 and returns NumPy. Gradients come from ``tf.GradientTape``,
training histories from ``keras.Model.fit``. Nothing here re-implements a
formula in NumPy: where this engine and a textbook disagree, the engine is
right by definition, because it is what learners will use at work.

TensorFlow is imported on first use (see ``_engine.tf``), so a run that stops
at a kata that is not started never waits for it.
"""
