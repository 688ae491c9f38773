#pragma once

namespace cairn {

/** A layer's activation as the plan names it (softmax included; the kernels' Act has no softmax). */
enum class ActKind { Linear, Relu, Sigmoid, Tanh, Softmax, Elu };

}  // namespace cairn
