// The Node binding: a Session class over core/session.h. Long calls (train, evaluate) run
// on libuv's pool via AsyncWorker and return promises, so the JS thread stays free; every
// C++ failure becomes a JS Error (never an abort).
#include <napi.h>

#include <functional>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "core/compute.h"
#include "core/session.h"

namespace {

using cairn::InputError;

template <typename F>
auto Guard(const Napi::Env& env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "cairn native: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("cairn native: ") + e.what());
  }
}

double Num(const Napi::Object& o, const char* key, double fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw InputError(std::string("plan: '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}
int Int(const Napi::Object& o, const char* key, int fallback = -1) {
  const double d = Num(o, key, fallback);
  if (d != static_cast<int>(d)) throw InputError(std::string("plan: '") + key + "' must be an integer");
  return static_cast<int>(d);
}
std::string Str(const Napi::Object& o, const char* key, const std::string& fallback = "") {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) throw InputError(std::string("plan: '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}
std::vector<int> Ints(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  std::vector<int> out;
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw InputError(std::string("plan: '") + key + "' must be an array");
  const Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    const Napi::Value x = a.Get(i);
    if (!x.IsNumber()) throw InputError(std::string("plan: '") + key + "' must hold numbers");
    out.push_back(x.As<Napi::Number>().Int32Value());
  }
  return out;
}
Napi::Object Obj(const Napi::Value& v, const char* what) {
  if (!v.IsObject()) throw InputError(std::string("plan: ") + what + " must be an object");
  return v.As<Napi::Object>();
}

cairn::ActKind ParseAct(const std::string& s) {
  if (s.empty() || s == "linear") return cairn::ActKind::Linear;
  if (s == "relu") return cairn::ActKind::Relu;
  if (s == "sigmoid") return cairn::ActKind::Sigmoid;
  if (s == "tanh") return cairn::ActKind::Tanh;
  if (s == "softmax") return cairn::ActKind::Softmax;
  if (s == "elu") return cairn::ActKind::Elu;
  throw InputError("plan: unknown activation '" + s + "'");
}

cairn::Plan ParsePlan(const Napi::Object& p) {
  using namespace cairn;
  Plan plan;
  const Napi::Value nodesV = p.Get("nodes");
  if (!nodesV.IsArray()) throw InputError("plan: 'nodes' must be an array");
  const Napi::Array nodes = nodesV.As<Napi::Array>();
  static const std::pair<const char*, Op> ops[] = {{"input", Op::Input}, {"dense", Op::Dense}, {"conv2d", Op::Conv2D}, {"maxpool", Op::MaxPool}, {"avgpool", Op::AvgPool}, {"gap", Op::GlobalAvgPool}, {"reshape", Op::Reshape}, {"dropout", Op::Dropout}, {"batchnorm", Op::BatchNorm}, {"activation", Op::Activation}, {"embedding", Op::Embedding}, {"add", Op::Add}, {"concat", Op::Concat}};
  for (uint32_t i = 0; i < nodes.Length(); i++) {
    const Napi::Object o = Obj(nodes.Get(i), "a node");
    Node n;
    const std::string op = Str(o, "op");
    bool found = false;
    for (const auto& [name, value] : ops)
      if (op == name) n.op = value, found = true;
    if (!found) throw InputError("plan: unknown op '" + op + "'");
    n.inputs = Ints(o, "inputs");
    n.shape = Ints(o, "shape");
    n.size = 1;
    for (int d : n.shape) {
      if (d <= 0) throw InputError("plan: node " + std::to_string(i) + " has a non-positive dimension");
      n.size *= d;
    }
    if (n.op != Op::Input && n.inputs.empty()) throw InputError("plan: node " + std::to_string(i) + " has no inputs");
    n.act = ParseAct(Str(o, "act"));
    n.kernel = Int(o, "kernel");
    n.bias = Int(o, "bias");
    n.gamma = Int(o, "gamma");
    n.beta = Int(o, "beta");
    n.movingMean = Int(o, "movingMean");
    n.movingVar = Int(o, "movingVar");
    n.units = Int(o, "units", 0);
    n.rate = static_cast<float>(Num(o, "rate", 0));
    n.epsilon = static_cast<float>(Num(o, "epsilon", 1e-3));
    n.momentum = Num(o, "momentum", 0.99);
    n.vocab = Int(o, "vocab", 0);
    if (o.Get("conv").IsObject()) {
      const Napi::Object c = o.Get("conv").As<Napi::Object>();
      n.conv = ConvShape{0, Int(c, "h"), Int(c, "w"), Int(c, "cin"), Int(c, "kh"), Int(c, "kw"), Int(c, "sh"), Int(c, "sw"), Int(c, "padTop"), Int(c, "padLeft"), Int(c, "oh"), Int(c, "ow"), Int(c, "cout")};
    }
    if (o.Get("pool").IsObject()) {
      const Napi::Object c = o.Get("pool").As<Napi::Object>();
      n.pool = PoolShape{0, Int(c, "h"), Int(c, "w"), Int(c, "c"), Int(c, "ph"), Int(c, "pw"), Int(c, "sh"), Int(c, "sw"), Int(c, "padTop"), Int(c, "padLeft"), Int(c, "oh"), Int(c, "ow")};
    }
    plan.nodes.push_back(std::move(n));
  }
  const Napi::Value paramsV = p.Get("params");
  if (!paramsV.IsArray()) throw InputError("plan: 'params' must be an array");
  const Napi::Array params = paramsV.As<Napi::Array>();
  for (uint32_t i = 0; i < params.Length(); i++) {
    const Napi::Object o = Obj(params.Get(i), "a param");
    Param pr;
    pr.shape = Ints(o, "shape");
    pr.size = 1;
    for (int d : pr.shape) {
      if (d <= 0) throw InputError("plan: parameter " + std::to_string(i) + " has a non-positive dimension");
      pr.size *= d;
    }
    pr.trainable = o.Get("trainable").ToBoolean().Value();
    plan.params.push_back(std::move(pr));
  }
  plan.output = Int(p, "output");
  const std::string loss = Str(p, "loss");
  if (loss == "sparseCategoricalCrossentropy") plan.loss = Loss::SparseCategorical;
  else if (loss == "categoricalCrossentropy") plan.loss = Loss::Categorical;
  else if (loss == "binaryCrossentropy") plan.loss = Loss::Binary;
  else if (loss == "meanSquaredError") plan.loss = Loss::MeanSquared;
  else throw InputError("plan: unknown loss '" + loss + "'");
  plan.fused = p.Get("fused").ToBoolean().Value();
  const Napi::Value metricsV = p.Get("metrics");
  if (metricsV.IsArray()) {
    const Napi::Array ms = metricsV.As<Napi::Array>();
    static const std::pair<const char*, Metric> kinds[] = {{"categoricalAccuracy", Metric::CategoricalAccuracy}, {"sparseCategoricalAccuracy", Metric::SparseCategoricalAccuracy}, {"binaryAccuracy", Metric::BinaryAccuracy}, {"meanSquaredError", Metric::MeanSquared}, {"categoricalCrossentropy", Metric::Categorical}, {"sparseCategoricalCrossentropy", Metric::SparseCategorical}, {"binaryCrossentropy", Metric::Binary}};
    for (uint32_t i = 0; i < ms.Length(); i++) {
      const std::string m = ms.Get(i).ToString().Utf8Value();
      bool found = false;
      for (const auto& [name, value] : kinds)
        if (m == name) plan.metrics.push_back(value), found = true;
      if (!found) throw InputError("plan: unknown metric '" + m + "'");
    }
  }
  plan.labelSize = Int(p, "labelSize");
  plan.maxBatch = Int(p, "maxBatch");
  const Napi::Object opt = Obj(p.Get("optimizer"), "'optimizer'");
  const std::string kind = Str(opt, "kind");
  if (kind == "sgd") plan.optimizer.kind = OptKind::Sgd;
  else if (kind == "momentum") plan.optimizer.kind = OptKind::Momentum;
  else if (kind == "adam") plan.optimizer.kind = OptKind::Adam;
  else if (kind == "rmsprop") plan.optimizer.kind = OptKind::RmsProp;
  else throw InputError("plan: unknown optimizer '" + kind + "'");
  plan.optimizer.learningRate = Num(opt, "learningRate", 0.01);
  plan.optimizer.beta1 = Num(opt, "beta1", 0.9);
  plan.optimizer.beta2 = Num(opt, "beta2", 0.999);
  plan.optimizer.epsilon = Num(opt, "epsilon", 1e-7);
  plan.optimizer.momentum = Num(opt, "momentum", 0);
  plan.optimizer.decay = Num(opt, "decay", 0.9);
  plan.optimizer.nesterov = opt.Get("nesterov").ToBoolean().Value();
  plan.optimizer.centered = opt.Get("centered").ToBoolean().Value();
  if (plan.labelSize <= 0) throw InputError("plan: 'labelSize' must be positive");
  return plan;
}

std::vector<float> Floats(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) throw InputError(std::string(what) + " must be a Float32Array");
  const Napi::Float32Array a = v.As<Napi::Float32Array>();
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

Napi::Float32Array ToJs(const Napi::Env& env, const std::vector<float>& v) {
  Napi::Float32Array a = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), a.Data());
  return a;
}

class SessionWrap;

/** Runs a session call off the JS thread and settles a promise with its result. */
class Job : public Napi::AsyncWorker {
 public:
  Job(Napi::Env env, Napi::Object owner, std::shared_ptr<cairn::Session> s, std::function<void()> work, std::function<Napi::Value(Napi::Env)> result)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), session_(std::move(s)), work_(std::move(work)), result_(std::move(result)) {
    owner_ = Napi::Persistent(owner);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    try {
      work_();
    } catch (const std::bad_alloc&) {
      SetError("cairn native: out of memory");
    } catch (const std::exception& e) {
      SetError(std::string("cairn native: ") + e.what());
    }
  }
  void OnOK() override {
    session_->busy = false;
    Napi::HandleScope scope(Env());
    deferred_.Resolve(result_(Env()));
  }
  void OnError(const Napi::Error& e) override {
    session_->busy = false;
    deferred_.Reject(e.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference owner_;
  std::shared_ptr<cairn::Session> session_;
  std::function<void()> work_;
  std::function<Napi::Value(Napi::Env)> result_;
};

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Session",
                       {InstanceMethod("setParam", &SessionWrap::SetParam), InstanceMethod("getParam", &SessionWrap::GetParam),
                        InstanceMethod("setSlot", &SessionWrap::SetSlot), InstanceMethod("getSlot", &SessionWrap::GetSlot),
                        InstanceMethod("setOptScalars", &SessionWrap::SetOptScalars), InstanceMethod("getOptScalars", &SessionWrap::GetOptScalars),
                        InstanceMethod("setSplit", &SessionWrap::SetSplit), InstanceMethod("train", &SessionWrap::Train),
                        InstanceMethod("evaluate", &SessionWrap::Evaluate), InstanceMethod("predict", &SessionWrap::Predict),
                        InstanceMethod("gradients", &SessionWrap::Gradients), InstanceMethod("applyGradients", &SessionWrap::ApplyGradients),
                        InstanceMethod("abort", &SessionWrap::Abort), InstanceMethod("threads", &SessionWrap::Threads), InstanceMethod("release", &SessionWrap::Release)});
  }

  explicit SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {
    Guard(info.Env(), [&] {
      if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber()) throw InputError("new Session(plan, threads)");
      const int threads = info[1].As<Napi::Number>().Int32Value();
      if (threads < 1 || threads > 1024) throw InputError("threads must be 1..1024");
      session_ = std::make_shared<cairn::Session>(ParsePlan(info[0].As<Napi::Object>()), threads);
      return 0;
    });
  }

 private:
  cairn::Session& idle() {
    if (!session_) throw InputError("the session was released");
    if (session_->busy) throw InputError("the session is busy with a train or evaluate call");
    return *session_;
  }
  static int Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
    if (info.Length() <= i || !info[i].IsNumber()) throw InputError(std::string(what) + " must be a number");
    return info[i].As<Napi::Number>().Int32Value();
  }
  std::vector<float>& param(const Napi::CallbackInfo& info) {
    idle();
    const int i = Arg(info, 0, "parameter index");
    if (i < 0 || i >= static_cast<int>(session_->plan().params.size())) throw InputError("parameter index out of range");
    return idle().param(i);
  }

  Napi::Value SetParam(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& p = param(info);
      std::vector<float> v = Floats(info[1], "parameter values");
      if (v.size() != p.size()) throw InputError("parameter " + std::to_string(Arg(info, 0, "")) + " holds " + std::to_string(p.size()) + " values, got " + std::to_string(v.size()));
      p = std::move(v);
      return info.Env().Undefined();
    });
  }
  Napi::Value GetParam(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value { return ToJs(info.Env(), param(info)); });
  }
  Napi::Value SetSlot(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& s = idle().slot(Arg(info, 0, "parameter index"), Arg(info, 1, "slot"));
      std::vector<float> v = Floats(info[2], "slot values");
      if (v.size() != s.size()) throw InputError("optimizer slot size mismatch: expected " + std::to_string(s.size()) + ", got " + std::to_string(v.size()));
      s = std::move(v);
      return info.Env().Undefined();
    });
  }
  Napi::Value GetSlot(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value { return ToJs(info.Env(), idle().slot(Arg(info, 0, "parameter index"), Arg(info, 1, "slot"))); });
  }
  Napi::Value SetOptScalars(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& s = idle();
      if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber()) throw InputError("setOptScalars(iterations, accBeta1, accBeta2)");
      s.iterations = info[0].As<Napi::Number>().Int64Value();
      s.accBeta1 = info[1].As<Napi::Number>().FloatValue();
      s.accBeta2 = info[2].As<Napi::Number>().FloatValue();
      return info.Env().Undefined();
    });
  }
  Napi::Value GetOptScalars(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& s = idle();
      Napi::Array a = Napi::Array::New(info.Env(), 3);
      a.Set(0u, Napi::Number::New(info.Env(), static_cast<double>(s.iterations)));
      a.Set(1u, Napi::Number::New(info.Env(), s.accBeta1));
      a.Set(2u, Napi::Number::New(info.Env(), s.accBeta2));
      return a;
    });
  }
  Napi::Value SetSplit(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& s = idle();
      const int which = Arg(info, 0, "split");
      const double rows = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : -1;
      s.setSplit(which, Floats(info[1], "features"), Floats(info[2], "targets"), static_cast<int64_t>(rows));
      return info.Env().Undefined();
    });
  }
  Napi::Value Train(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      idle();
      if (info.Length() < 6 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) throw InputError("train(order: Int32Array, start, steps, batchSize, seed, stepBase, masks?: Float32Array)");
      const Napi::Int32Array o = info[0].As<Napi::Int32Array>();
      auto order = std::make_shared<std::vector<int32_t>>(o.Data(), o.Data() + o.ElementLength());
      const int64_t start = info[1].As<Napi::Number>().Int64Value();
      const int steps = Arg(info, 2, "steps"), batch = Arg(info, 3, "batchSize");
      const uint64_t seed = static_cast<uint64_t>(info[4].As<Napi::Number>().Int64Value());
      const int64_t stepBase = info[5].As<Napi::Number>().Int64Value();
      auto masks = std::make_shared<std::vector<float>>();
      if (info.Length() > 6 && !info[6].IsUndefined() && !info[6].IsNull()) *masks = Floats(info[6], "dropout masks");
      auto result = std::make_shared<cairn::StepResult>();
      auto s = session_;
      s->abort = false;
      s->busy = true;
      const int metrics = s->metricsCount();
      Job* job = new Job(
          info.Env(), info.This().As<Napi::Object>(), s, [=] { *result = s->train(*order, start, steps, batch, seed, stepBase, *masks); },
          [=](Napi::Env env) -> Napi::Value {
            Napi::Object r = Napi::Object::New(env);
            Napi::Float64Array values = Napi::Float64Array::New(env, result->values.size());
            std::copy(result->values.begin(), result->values.end(), values.Data());
            Napi::Int32Array rows = Napi::Int32Array::New(env, result->rows.size());
            std::copy(result->rows.begin(), result->rows.end(), rows.Data());
            r.Set("values", values);
            r.Set("rows", rows);
            r.Set("steps", result->steps);
            r.Set("width", 1 + metrics);
            r.Set("aborted", result->aborted);
            return r;
          });
      job->Queue();
      return job->Promise();
    });
  }
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      idle();
      const int which = Arg(info, 0, "split"), batch = Arg(info, 1, "batchSize");
      auto result = std::make_shared<std::vector<double>>();
      auto s = session_;
      s->split(which);
      s->busy = true;
      Job* job = new Job(
          info.Env(), info.This().As<Napi::Object>(), s, [=] { *result = s->evaluate(which, batch); },
          [=](Napi::Env env) -> Napi::Value {
            Napi::Float64Array a = Napi::Float64Array::New(env, result->size());
            std::copy(result->begin(), result->end(), a.Data());
            return a;
          });
      job->Queue();
      return job->Promise();
    });
  }
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& s = idle();
      std::vector<float> xs = Floats(info[0], "features");
      const int64_t rows = Arg(info, 1, "rows");
      if (static_cast<int64_t>(xs.size()) != rows * s.plan().nodes[0].size) throw InputError("predict: features do not match rows x the model's input size");
      const bool training = info.Length() > 2 && info[2].ToBoolean().Value();
      return ToJs(info.Env(), s.predict(xs.data(), rows, training));
    });
  }
  Napi::Value Gradients(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& s = idle();
      std::vector<float> xs = Floats(info[0], "features"), ys = Floats(info[1], "targets");
      const int64_t rows = Arg(info, 2, "rows");
      if (static_cast<int64_t>(xs.size()) != rows * s.plan().nodes[0].size || static_cast<int64_t>(ys.size()) != rows * s.plan().labelSize) throw InputError("gradients: features or targets do not match rows");
      std::vector<std::vector<float>> grads;
      const double loss = s.gradients(xs.data(), ys.data(), rows, grads);
      Napi::Object r = Napi::Object::New(info.Env());
      r.Set("loss", loss);
      Napi::Array g = Napi::Array::New(info.Env(), grads.size());
      for (size_t i = 0; i < grads.size(); i++) g.Set(static_cast<uint32_t>(i), grads[i].empty() ? info.Env().Null() : Napi::Value(ToJs(info.Env(), grads[i])));
      r.Set("grads", g);
      return r;
    });
  }
  Napi::Value ApplyGradients(const Napi::CallbackInfo& info) {
    return Guard(info.Env(), [&]() -> Napi::Value {
      auto& s = idle();
      if (info.Length() < 1 || !info[0].IsArray()) throw InputError("applyGradients(grads: Float32Array[])");
      const Napi::Array a = info[0].As<Napi::Array>();
      std::vector<std::vector<float>> grads;
      for (uint32_t i = 0; i < a.Length(); i++) grads.push_back(a.Get(i).IsNull() ? std::vector<float>() : Floats(a.Get(i), "gradient"));
      s.applyGradients(grads);
      return info.Env().Undefined();
    });
  }
  Napi::Value Abort(const Napi::CallbackInfo& info) {
    if (session_) session_->abort = true;
    return info.Env().Undefined();
  }
  Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), session_ ? session_->threads() : 0); }
  /** Frees the session's buffers and data now (a job in flight keeps its own reference until it ends). */
  Napi::Value Release(const Napi::CallbackInfo& info) {
    if (session_) session_->abort = true;
    session_.reset();
    return info.Env().Undefined();
  }

  std::shared_ptr<cairn::Session> session_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", SessionWrap::Init(env));
  exports.Set("isa", Napi::String::New(env, cairn::KernelIsa()));
  exports.Set("hardwareThreads", Napi::Number::New(env, std::thread::hardware_concurrency()));
  return exports;
}

}  // namespace

NODE_API_MODULE(cairn_native, Init)
