""" Linear Regression Example """

# ruff: noqa: UP009, UP010, I001  (tflearn's lines are kept as they were)
from __future__ import absolute_import, division, print_function

import os

import stackit

# Regression data
X = [3.3,4.4,5.5,6.71,6.93,4.168,9.779,6.182,7.59,2.167,7.042,10.791,5.313,7.997,5.654,9.27,3.1]
Y = [1.7,2.76,2.09,3.19,1.694,1.573,3.366,2.596,2.53,1.221,2.827,3.465,1.65,2.904,2.42,2.94,1.3]

# Port note: set STACKIT_EXAMPLE_EPOCHS to train for fewer (or more) epochs than the original.
N_EPOCH = int(os.environ.get("STACKIT_EXAMPLE_EPOCHS", 1000))

# Linear Regression graph
input_ = stackit.input_data(shape=[None])
linear = stackit.single_unit(input_)
regression = stackit.regression(linear, optimizer='sgd', loss='mean_square',
                                metric='R2', learning_rate=0.01)
m = stackit.DNN(regression)
m.fit(X, Y, n_epoch=N_EPOCH, show_metric=True, snapshot_epoch=False)

print("\nRegression result:")
print("Y = " + str(m.get_weights(linear.W)) +
      "*X + " + str(m.get_weights(linear.b)))

print("\nTest prediction for x = 3.2, 3.3, 3.4:")
print(m.predict([3.2, 3.3, 3.4]))
# should output (close, not exact) y = [1.5315033197402954, 1.5585315227508545, 1.5855598449707031]
