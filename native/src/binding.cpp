// N-API binding (node-addon-api): one build serves Node and Electron. Every long call runs on a libuv worker
// thread, returns a Promise, reports (phase, done, total) progress and can be cancelled through a shared flag.
#include <napi.h>

#include <cfloat>
#include <cmath>
#include <cstring>

#include "kernel_paths.h"
#include "model.h"
#include "product_bench.h"
#include "roofline.h"
#include "quants.h"
#include "threads.h"

namespace {

Napi::FunctionReference* step_ctor = nullptr;

// ---- JS ⇄ C++ helpers -------------------------------------------------------------------------------------
[[noreturn]] void type_error(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

double num(Napi::Env env, const Napi::Object& o, const char* key, double def, bool required = false) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) type_error(env, std::string(key) + " is required");
    return def;
  }
  if (!v.IsNumber()) type_error(env, std::string(key) + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) type_error(env, std::string(key) + " must be a finite number");
  return d;
}

// A whole number in [lo, hi] (a count, index, offset or size): never cast a negative, fractional or non-finite
// double to an integer type (undefined behaviour in C++).
double whole(Napi::Env env, Napi::Value v, const std::string& what, double lo, double hi) {
  if (!v.IsNumber()) type_error(env, what + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi) {
    char buf[400];
    std::snprintf(buf, sizeof buf, std::isfinite(d) && d == std::floor(d) ? "%.0f" : "%.17g", d);
    type_error(env, what + " " + buf + " must be a whole number in [" + std::to_string((int64_t)lo) + ", " +
                        std::to_string((int64_t)hi) + "]");
  }
  return d;
}
int int_field(Napi::Env env, const Napi::Object& o, const char* key, double def, double lo = 0,
              double hi = INT32_MAX, bool required = false) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    if (required) type_error(env, std::string(key) + " is required");
    return (int)def;
  }
  return (int)whole(env, v, key, lo, hi);
}
const double MAX_SAFE = 9007199254740991.0;  // 2^53 − 1: the largest byte offset JSON and JS carry exactly

std::vector<int> int_list(Napi::Env env, Napi::Value v, const char* what) {
  std::vector<int> out;
  if (v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_int32_array) {
      Napi::Int32Array a = v.As<Napi::Int32Array>();
      out.assign(a.Data(), a.Data() + a.ElementLength());
      return out;
    }
  }
  if (!v.IsArray()) type_error(env, std::string(what) + " must be an array of token ids");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) type_error(env, std::string(what) + " must contain integers");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != std::floor(d) || d < 0 || d > 2147483647.0) type_error(env, std::string(what) + " must contain token ids");
    out.push_back((int)d);
  }
  return out;
}

// a Float32Array of `expect` values ((size_t)−1: any number)
Napi::Float32Array float32_array(Napi::Env env, Napi::Value v, size_t expect, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    type_error(env, std::string(what) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  if (expect != (size_t)-1 && a.ElementLength() != expect)
    type_error(env, std::string(what) + " has " + std::to_string(a.ElementLength()) + " values, expected " +
                        std::to_string(expect));
  return a;
}
std::vector<float> float_list(Napi::Env env, Napi::Value v, size_t expect, const char* what) {
  Napi::Float32Array a = float32_array(env, v, expect, what);
  return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
}

// float_list's values copied into a step's memory
Floats float_span(Napi::Env env, StepMemory& mem, Napi::Value v, size_t expect, const char* what) {
  Napi::Float32Array a = float32_array(env, v, expect, what);
  return mem.copy(a.Data(), a.ElementLength());
}

Napi::Float32Array to_f32(Napi::Env env, const float* v, size_t n) {
  Napi::Float32Array a = Napi::Float32Array::New(env, n);
  if (n) std::memcpy(a.Data(), v, n * 4);
  return a;
}
Napi::Float32Array to_f32(Napi::Env env, const std::vector<float>& v) { return to_f32(env, v.data(), v.size()); }
Napi::Float32Array to_f32(Napi::Env env, Floats v) { return to_f32(env, v.data(), v.size()); }
Napi::Int32Array to_i32(Napi::Env env, const std::vector<int>& v) {
  Napi::Int32Array a = Napi::Int32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * 4);
  return a;
}

DType parse_dtype(Napi::Env env, Napi::Value v) {
  std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  DType t;
  if (dtype_from_name(s, &t)) return t;
  type_error(env, "unsupported dtype '" + s + "' (" + dtype_names() + " are supported)");
}

// ---- Step: a gradient held in factored form -------------------------------------------------------------------
class StepWrap : public Napi::ObjectWrap<StepWrap> {
 public:
  std::shared_ptr<Step> step;
  std::vector<double> norms;
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Step",
                       {InstanceAccessor("loss", &StepWrap::Loss, nullptr), InstanceAccessor("ids", &StepWrap::Ids, nullptr),
                        InstanceMethod("gradNorms", &StepWrap::GradNorms), InstanceMethod("export", &StepWrap::Export),
                        InstanceAccessor("bytes", &StepWrap::Bytes, nullptr),
                        InstanceMethod("release", &StepWrap::Release)});
  }
  StepWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StepWrap>(info) {}
  // The step, refused once released
  const Step& held(Napi::Env env) const {
    if (!step) type_error(env, "this gradient was released");
    return *step;
  }
  // release(): drops this object's hold on the step now rather than when the garbage collector finds the object
  // (prompted by the external memory hold() reports, but at a time of its choosing). When nothing else holds the step
  // (a view being computed does), its memory goes back to the engine's cache and the next step reuses it without
  // faulting its pages in again. Any later use of this object is refused.
  Napi::Value Release(const Napi::CallbackInfo& info) {
    hold(info.Env(), nullptr);
    return info.Env().Undefined();
  }
  // Takes (or, with null, drops) this object's hold on a step. The step's memory is told to V8 as external memory, as
  // a model's copied weights are: the garbage collector then collects dropped gradients as promptly as JS objects of
  // their size (tens of MB for a 1B model), so their memory returns to the engine's cache before the next step needs it.
  void hold(Napi::Env env, std::shared_ptr<Step> s) {
    if (external) Napi::MemoryManagement::AdjustExternalMemory(env, -external);
    step = std::move(s);
    external = step ? (int64_t)held_bytes() : 0;
    if (external) Napi::MemoryManagement::AdjustExternalMemory(env, external);
  }
  ~StepWrap() {
    if (external) Napi::MemoryManagement::AdjustExternalMemory(Env(), -external);
  }
  int64_t external = 0;
  // the memory the step holds: its factors' (a shared X counted once), then its small vectors
  double held_bytes() const {
    double b = step->memory.bytes() + step->emb_grad.size() * 4.0;
    for (auto& n : step->norm_grad) b += n.size() * 4.0;
    for (auto& g : step->bias_grad) b += g.size() * 4.0;
    return b;
  }
  Napi::Value Loss(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), held(info.Env()).loss); }
  Napi::Value Ids(const Napi::CallbackInfo& info) { return to_i32(info.Env(), held(info.Env()).ids); }
  Napi::Value GradNorms(const Napi::CallbackInfo& info) {
    held(info.Env());
    Napi::Float64Array a = Napi::Float64Array::New(info.Env(), norms.size());
    for (size_t i = 0; i < norms.size(); i++) a[i] = norms[i];
    return a;
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), step ? held_bytes() : 0);  // released: holds nothing
  }
  Napi::Value Export(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Step& s = held(env);
    Napi::Object o = Napi::Object::New(env);
    o.Set("ids", to_i32(env, s.ids));
    o.Set("loss", Napi::Number::New(env, s.loss));
    Napi::Array lin = Napi::Array::New(env, s.lin.size());
    for (size_t i = 0; i < s.lin.size(); i++) {
      Napi::Object f = Napi::Object::New(env);
      f.Set("T", s.lin[i].T);
      f.Set("in", s.lin[i].in);
      f.Set("out", s.lin[i].out);
      f.Set("X", to_f32(env, s.lin[i].X));
      f.Set("G", to_f32(env, s.lin[i].G));
      lin.Set(i, f);
    }
    o.Set("linears", lin);
    o.Set("embRows", to_i32(env, s.emb_rows));
    o.Set("embGrad", to_f32(env, s.emb_grad));
    Napi::Array ng = Napi::Array::New(env, s.norm_grad.size());
    for (size_t i = 0; i < s.norm_grad.size(); i++) ng.Set(i, to_f32(env, s.norm_grad[i]));
    o.Set("normGrads", ng);
    // one entry per linear slot (head last), empty where the layer has no bias
    Napi::Array bg = Napi::Array::New(env, s.bias_grad.size());
    for (size_t i = 0; i < s.bias_grad.size(); i++) bg.Set(i, to_f32(env, s.bias_grad[i]));
    o.Set("biasGrads", bg);
    return o;
  }
};

// ---- async task with progress and cancellation ----------------------------------------------------------
struct Progress {
  char phase[24];
  double done, total;
};

class Task : public Napi::AsyncProgressQueueWorker<Progress> {
 public:
  using Work = std::function<void(const Job&)>;
  using Finish = std::function<Napi::Value(Napi::Env)>;
  Task(Napi::Env env, Napi::Object opts, Work work, Finish finish)
      : Napi::AsyncProgressQueueWorker<Progress>(env), deferred(Napi::Promise::Deferred::New(env)), work(work),
        finish(finish) {
    Napi::Value cb = opts.IsObject() ? opts.Get("onProgress") : env.Undefined();
    if (cb.IsFunction()) progress_cb = Napi::Persistent(cb.As<Napi::Function>());
    Napi::Value cancel = opts.IsObject() ? opts.Get("cancel") : env.Undefined();
    if (cancel.IsTypedArray() && cancel.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
      cancel_ref = Napi::Persistent(cancel.As<Napi::Object>());
      cancel_flag = cancel.As<Napi::Int32Array>().Data();
    }
  }
  Napi::Promise Promise() { return deferred.Promise(); }

 protected:
  void Execute(const ExecutionProgress& ep) override {
    Job job;
    job.cancelled = [this] { return cancel_flag && *(volatile int32_t*)cancel_flag != 0; };
    job.progress = [&ep](const char* phase, int64_t done, int64_t total) {
      Progress p;
      std::strncpy(p.phase, phase, sizeof(p.phase) - 1);
      p.phase[sizeof(p.phase) - 1] = 0;
      p.done = (double)done;
      p.total = (double)total;
      ep.Send(&p, 1);
    };
    try {
      work(job);
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnProgress(const Progress* p, size_t n) override {
    if (progress_cb.IsEmpty() || n == 0) return;
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    try {
      progress_cb.Call({Napi::String::New(env, p[n - 1].phase), Napi::Number::New(env, p[n - 1].done),
                        Napi::Number::New(env, p[n - 1].total)});
    } catch (const Napi::Error&) {  // a throwing progress callback must not take the engine down
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred.Resolve(finish(env));
    } catch (const Napi::Error& e) {
      deferred.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override { deferred.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred;
  Work work;
  Finish finish;
  Napi::FunctionReference progress_cb;
  Napi::ObjectReference cancel_ref;
  int32_t* cancel_flag = nullptr;
};

// ---- Model ------------------------------------------------------------------------------------------------
class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  std::shared_ptr<Model> model;
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Model",
                       {InstanceMethod("gradient", &ModelWrap::Gradient), InstanceMethod("generate", &ModelWrap::Generate),
                        InstanceMethod("score", &ModelWrap::Score), InstanceMethod("materialise", &ModelWrap::Materialise),
                        InstanceMethod("importStep", &ModelWrap::ImportStep),
                        InstanceMethod("routing", &ModelWrap::Routing),
                        InstanceMethod("tensorNames", &ModelWrap::TensorNames),
                        InstanceMethod("weightsMemory", &ModelWrap::WeightsMemory)});
  }

  // new Model({config, files, tensors})
  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "Model expects a spec object");
    Napi::Object spec = info[0].As<Napi::Object>();
    if (!spec.Get("config").IsObject()) type_error(env, "spec.config is required");
    Napi::Object c = spec.Get("config").As<Napi::Object>();
    Config cfg;
    // config values the engine cannot address are refused by name (check_config gives the limits)
    auto cfg_int = [&](const char* key, const char* field, double def, bool required) -> int {
      Napi::Value v = c.Get(key);
      if (v.IsUndefined() || v.IsNull()) {
        if (required) type_error(env, std::string("config.json: ") + field + " is required");
        return (int)def;
      }
      const std::string what = std::string("config.json: ") + field;
      if (!v.IsNumber()) type_error(env, what + " must be a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) > 2147483647.0) {
        char buf[400];
        std::snprintf(buf, sizeof buf, "%.0f", d);
        type_error(env, what + " " + buf + " is beyond what the engine can address (at most 2147483647)");
      }
      return (int)whole(env, v, what, -2147483648.0, 2147483647.0);
    };
    cfg.vocab = cfg_int("vocab", "vocab_size", 0, true);
    cfg.dim = cfg_int("dim", "hidden_size", 0, true);
    cfg.ffn = cfg_int("ffn", "intermediate_size", 0, true);
    cfg.layers = cfg_int("layers", "num_hidden_layers", 0, true);
    cfg.heads = cfg_int("heads", "num_attention_heads", 0, true);
    cfg.kv_heads = cfg_int("kvHeads", "num_key_value_heads", 0, true);
    cfg.head_dim = cfg_int("headDim", "head_dim", 0, true);
    double eps = num(env, c, "eps", 1e-5);
    if (!(eps > 0) || eps > FLT_MAX) type_error(env, "config.json: rms_norm_eps must be a positive float32 number");
    cfg.eps = (float)eps;
    cfg.rope_theta = num(env, c, "ropeTheta", 10000);
    cfg.tied = c.Get("tied").ToBoolean();
    cfg.bos = cfg_int("bos", "bos_token_id", 1, false);
    cfg.eos = cfg_int("eos", "eos_token_id", 2, false);
    cfg.max_pos = cfg_int("maxPos", "max_position_embeddings", 4096, false);
    cfg.rope_interleaved = c.Get("ropeInterleaved").ToBoolean();
    cfg.rope_dims = (int)num(env, c, "ropeDims", 0);
    const size_t rot_half = (size_t)(cfg.rope_dims > 0 && cfg.rope_dims <= cfg.head_dim ? cfg.rope_dims : cfg.head_dim) / 2;
    if (!c.Get("ropeInvFreq").IsUndefined() && !c.Get("ropeInvFreq").IsNull())
      cfg.rope_inv_freq = float_list(env, c.Get("ropeInvFreq"), rot_half, "config.ropeInvFreq");
    cfg.rope_scale = (float)num(env, c, "ropeScale", 1);
    cfg.sliding_window = (int)num(env, c, "slidingWindow", 0);
    cfg.bias_qkv = c.Get("biasQKV").ToBoolean();
    cfg.bias_o = c.Get("biasO").ToBoolean();
    cfg.bias_mlp = c.Get("biasMLP").ToBoolean();
    cfg.qk_norm = c.Get("qkNorm").ToBoolean();
    cfg.embed_scale = (float)num(env, c, "embeddingMultiplier", 1);
    cfg.residual_scale = (float)num(env, c, "residualMultiplier", 1);
    cfg.attn_scale = (float)num(env, c, "attentionMultiplier", 0);
    cfg.logit_divisor = (float)num(env, c, "logitsScaling", 1);
    cfg.norm_offset = (float)num(env, c, "normOffset", 0);
    cfg.post_norms = c.Get("postNorms").ToBoolean();
    cfg.gelu_tanh = c.Get("geluTanh").ToBoolean();
    cfg.attn_softcap = (float)num(env, c, "attnSoftcap", 0);
    cfg.final_softcap = (float)num(env, c, "finalSoftcap", 0);
    if (c.Get("layerSliding").IsArray()) {
      Napi::Array ls = c.Get("layerSliding").As<Napi::Array>();
      for (uint32_t i = 0; i < ls.Length(); i++) cfg.layer_sliding.push_back(ls.Get(i).ToBoolean() ? 1 : 0);
    }
    cfg.qk_norm_full = c.Get("qkNormFull").ToBoolean();
    cfg.n_experts = cfg_int("experts", "num_experts", 0, false);
    if (cfg.n_experts != 0) {  // a mixture of experts (experts.cpp)
      cfg.top_k = cfg_int("expertsPerToken", "num_experts_per_tok", 0, true);
      cfg.expert_ffn = cfg_int("expertFfn", "moe_intermediate_size", 0, true);
      cfg.norm_topk = c.Get("normTopkProb").ToBoolean();
      if (!c.Get("layerExperts").IsArray()) type_error(env, "config.layerExperts must be an array of booleans");
      Napi::Array le = c.Get("layerExperts").As<Napi::Array>();
      for (uint32_t i = 0; i < le.Length(); i++) cfg.layer_moe.push_back(le.Get(i).ToBoolean() ? 1 : 0);
    }
    cfg.attn_sinks = c.Get("attnSinks").ToBoolean();  // GPT-OSS
    cfg.expert_bias = c.Get("expertBias").ToBoolean();
    cfg.glu_limit = (float)num(env, c, "gluLimit", 0);
    cfg.glu_alpha = (float)num(env, c, "gluAlpha", 1);
    if (!c.Get("ropeInvFreqLocal").IsUndefined() && !c.Get("ropeInvFreqLocal").IsNull())
      cfg.rope_inv_freq_local =
          float_list(env, c.Get("ropeInvFreqLocal"), rot_half, "config.ropeInvFreqLocal");
    if (!c.Get("ropeInvFreqLong").IsUndefined() && !c.Get("ropeInvFreqLong").IsNull()) {
      cfg.rope_inv_freq_long = float_list(env, c.Get("ropeInvFreqLong"), rot_half, "config.ropeInvFreqLong");
      cfg.rope_long_after = int_field(env, c, "ropeLongAfter", 0, 1, 1 << 30);
    }
    int threads = int_field(env, spec, "threads", 0, 0, 4096);
    threads_init(threads);
    std::vector<std::string> files;
    if (!spec.Get("files").IsArray()) type_error(env, "spec.files must be an array of paths");
    Napi::Array fa = spec.Get("files").As<Napi::Array>();
    for (uint32_t i = 0; i < fa.Length(); i++) files.push_back(fa.Get(i).ToString().Utf8Value());
    std::vector<TensorSpec> tensors;
    if (!spec.Get("tensors").IsArray()) type_error(env, "spec.tensors must be an array");
    Napi::Array ta = spec.Get("tensors").As<Napi::Array>();
    for (uint32_t i = 0; i < ta.Length(); i++) {
      if (!ta.Get(i).IsObject()) type_error(env, "spec.tensors must hold {name, file, offset, dtype, shape} objects");
      Napi::Object t = ta.Get(i).As<Napi::Object>();
      TensorSpec ts;
      ts.name = t.Get("name").ToString().Utf8Value();
      ts.file = (int)whole(env, t.Get("file"), "tensor " + ts.name + ": file index", 0,
                           files.empty() ? 0 : (double)files.size() - 1);
      if (files.empty()) type_error(env, "tensor " + ts.name + ": there are no checkpoint files");
      const std::string where = files[ts.file] + ": " + ts.name + ": ";
      ts.offset = (uint64_t)whole(env, t.Get("offset"), where + "byte offset", 0, MAX_SAFE);
      ts.dtype = parse_dtype(env, t.Get("dtype"));
      if (!t.Get("shape").IsArray()) type_error(env, where + "shape must be an array");
      Napi::Array sh = t.Get("shape").As<Napi::Array>();
      for (uint32_t j = 0; j < sh.Length(); j++)
        ts.shape.push_back((int64_t)whole(env, sh.Get(j), where + "dimension", 0, MAX_SAFE));
      if (t.Get("strides").IsArray()) {  // [row, column] element strides of a tensor gathered at load (GPT-OSS)
        Napi::Array st = t.Get("strides").As<Napi::Array>();
        if (st.Length() != 2) type_error(env, where + "strides must be [row, column]");
        ts.row_stride = (int64_t)whole(env, st.Get(0u), where + "row stride", 1, MAX_SAFE);
        ts.col_stride = (int64_t)whole(env, st.Get(1u), where + "column stride", 1, MAX_SAFE);
      }
      if (t.Get("mxfp4").IsObject()) {  // GPT-OSS's MXFP4 experts in a Hugging Face checkpoint (blocks + scales)
        Napi::Object mx = t.Get("mxfp4").As<Napi::Object>();
        ts.hf_mxfp4 = true;
        ts.hf_scales_file = (int)whole(env, mx.Get("scalesFile"), where + "scales file index", 0, (double)files.size() - 1);
        ts.hf_scales_offset = (uint64_t)whole(env, mx.Get("scalesOffset"), where + "scales byte offset", 0, MAX_SAFE);
        ts.hf_row_step = (int64_t)whole(env, mx.Get("rowStep"), where + "row step", 1, 2);
      }
      tensors.push_back(ts);
    }
    try {
      model = load_model(cfg, files, tensors);
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
    // copied weights are memory the JS heap cannot see: told to V8, a dropped model is collected (and its copy freed)
    // as promptly as a JS object of that size would be, not after the next unrelated collection
    external = model->copy ? (int64_t)model->copy->bytes : 0;
    if (external) Napi::MemoryManagement::AdjustExternalMemory(env, external);
  }
  ~ModelWrap() {
    if (external) Napi::MemoryManagement::AdjustExternalMemory(Env(), -external);
  }
  int64_t external = 0;

  // views: [[{step, lr}, …], …]
  View parse_view(Napi::Env env, Napi::Value v) {
    View view;
    if (v.IsUndefined() || v.IsNull()) return view;
    if (!v.IsArray()) type_error(env, "a view must be an array of {step, lr}");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      if (!a.Get(i).IsObject()) type_error(env, "a view term must be {step, lr}");
      Napi::Object t = a.Get(i).As<Napi::Object>();
      Napi::Value sv = t.Get("step");
      if (!sv.IsObject() || !sv.As<Napi::Object>().InstanceOf(step_ctor->Value()))
        type_error(env, "view term has no gradient step");
      double lr = num(env, t, "lr", 0, true);
      if (std::fabs(lr) > FLT_MAX) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "step size %g is beyond float32 (max %g): the stepped weights would overflow",
                      lr, (double)FLT_MAX);
        type_error(env, buf);
      }
      Term term;
      term.step = StepWrap::Unwrap(sv.As<Napi::Object>())->step;
      if (!term.step) type_error(env, "a view term's gradient was released");
      if ((int)term.step->lin.size() != model->n_linear()) type_error(env, "the step belongs to another model");
      term.coef = (float)lr;
      view.push_back(term);
    }
    try {
      check_view(*model, view);
    } catch (const std::exception& e) {
      type_error(env, e.what());
    }
    return view;
  }
  std::vector<View> parse_views(Napi::Env env, Napi::Value v) {
    if (!v.IsArray()) type_error(env, "views must be an array");
    std::vector<View> out;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) out.push_back(parse_view(env, a.Get(i)));
    if (out.empty()) type_error(env, "at least one view is required");
    return out;
  }
  void check_ids(Napi::Env env, const std::vector<int>& ids, const char* what) {
    try {
      ::check_ids(*model, ids, what);
    } catch (const std::exception& e) {
      type_error(env, e.what());
    }
  }

  // gradient(ids, at, opts) → Promise<Step>
  Napi::Value Gradient(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto ids = int_list(env, info[0], "ids");
    check_ids(env, ids, "ids");
    View at = parse_view(env, info[1]);
    auto m = model;
    auto out = std::make_shared<std::pair<std::shared_ptr<Step>, std::vector<double>>>();
    Task* t = new Task(env, info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env),
                       [m, ids, at, out](const Job& job) {
                         WeightsInUse use(*m);
                         out->first = phrase_gradient(*m, ids, at, job);
                         job.report("norms", 0, 1);
                         out->second = step_grad_norms(*m, *out->first);
                       },
                       [out](Napi::Env env) -> Napi::Value {
                         Napi::Object o = step_ctor->New({});
                         StepWrap* w = StepWrap::Unwrap(o);
                         w->norms = out->second;
                         w->hold(env, out->first);
                         return o;
                       });
    t->Queue();
    return t->Promise();
  }

  // generate({prompt, views, maxNew, maxSeq, temperature, topP, seed}, opts) → Promise<{tokens, margins, cancelled}>
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "generate expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    GenParams p;
    p.prompt = int_list(env, o.Get("prompt"), "prompt");
    check_ids(env, p.prompt, "prompt");
    p.max_new = int_field(env, o, "maxNew", 64);
    p.max_seq = int_field(env, o, "maxSeq", 128);
    // checked as doubles: casting a double beyond float32's range to float is undefined behaviour
    double temperature = num(env, o, "temperature", 0), top_p = num(env, o, "topP", 1);
    if (!(temperature >= 0) || temperature > FLT_MAX || !(top_p > 0 && top_p <= 1))
      type_error(env, "temperature must be in [0, 3.4e38] and topP in (0, 1]");
    p.temperature = (float)temperature;
    p.top_p = (float)top_p;
    p.seed = (uint64_t)(o.Get("seed").IsUndefined() ? 0 : whole(env, o.Get("seed"), "seed", 0, MAX_SAFE));
    p.eos = {model->cfg.eos};
    if (o.Has("eos")) p.eos = int_list(env, o.Get("eos"), "eos");
    check_ids(env, p.eos, "eos");
    if (p.max_new < 0 || p.max_seq < 2) type_error(env, "maxNew must be ≥ 0 and maxSeq ≥ 2");
    if (p.temperature < 0 || p.top_p <= 0 || p.top_p > 1) type_error(env, "temperature must be ≥ 0 and topP in (0, 1]");
    std::vector<View> views = parse_views(env, o.Get("views"));
    auto m = model;
    auto out = std::make_shared<GenResult>();
    Task* t = new Task(env, info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
                       [m, views, p, out](const Job& job) {
                         WeightsInUse use(*m);
                         *out = generate(*m, views, p, job);
                       },
                       [out](Napi::Env env) -> Napi::Value {
                         Napi::Object r = Napi::Object::New(env);
                         Napi::Array toks = Napi::Array::New(env, out->tokens.size());
                         Napi::Array margins = Napi::Array::New(env, out->tokens.size());
                         for (size_t i = 0; i < out->tokens.size(); i++) {
                           toks.Set(i, to_i32(env, out->tokens[i]));
                           margins.Set(i, to_f32(env, out->margins[i]));
                         }
                         r.Set("tokens", toks);
                         r.Set("margins", margins);
                         r.Set("cancelled", Napi::Boolean::New(env, out->cancelled));
                         return r;
                       });
    t->Queue();
    return t->Promise();
  }

  // score({ids, views, topk, fullAt}, opts) → Promise<{T, k, nll, argmax, topIds, topLogprobs, kl, full}>
  Napi::Value Score(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "score expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto ids = int_list(env, o.Get("ids"), "ids");
    check_ids(env, ids, "ids");
    int topk = int_field(env, o, "topk", 0);
    std::vector<int> full_at;
    if (!o.Get("fullAt").IsUndefined()) full_at = int_list(env, o.Get("fullAt"), "fullAt");
    for (int t : full_at)
      if (t >= (int)ids.size()) type_error(env, "fullAt position " + std::to_string(t) + " is past the text");
    std::vector<View> views = parse_views(env, o.Get("views"));
    auto m = model;
    auto out = std::make_shared<ScoreResult>();
    Task* t = new Task(env, info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
                       [m, views, ids, topk, full_at, out](const Job& job) {
                         WeightsInUse use(*m);
                         *out = score(*m, views, ids, topk, full_at, job);
                       },
                       [out](Napi::Env env) -> Napi::Value {
                         Napi::Object r = Napi::Object::New(env);
                         r.Set("T", out->T);
                         r.Set("k", out->k);
                         r.Set("nll", to_f32(env, out->nll));
                         r.Set("argmax", to_i32(env, out->argmax));
                         r.Set("topIds", to_i32(env, out->top_ids));
                         r.Set("topLogprobs", to_f32(env, out->top_lp));
                         r.Set("kl", to_f32(env, out->kl));
                         r.Set("full", to_f32(env, out->full));
                         return r;
                       });
    t->Queue();
    return t->Promise();
  }

  // routing({ids, views}, opts) → Promise<{T, E, K, layers, sel: Int32Array[], w: Float32Array[], probs: Float32Array[]}>
  // (one entry per view × MoE layer, view-major)
  Napi::Value Routing(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "routing expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto ids = int_list(env, o.Get("ids"), "ids");
    check_ids(env, ids, "ids");
    std::vector<View> views = parse_views(env, o.Get("views"));
    auto m = model;
    auto out = std::make_shared<RoutingResult>();
    Task* t = new Task(env, info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
                       [m, views, ids, out](const Job& job) {
                         WeightsInUse use(*m);
                         *out = routing(*m, views, ids, job);
                       },
                       [out](Napi::Env env) -> Napi::Value {
                         Napi::Object r = Napi::Object::New(env);
                         r.Set("T", out->T);
                         r.Set("E", out->E);
                         r.Set("K", out->K);
                         r.Set("layers", to_i32(env, out->layers));
                         Napi::Array sel = Napi::Array::New(env), w = Napi::Array::New(env), probs = Napi::Array::New(env);
                         for (size_t i = 0; i < out->sel.size(); i++) {
                           sel.Set((uint32_t)i, to_i32(env, out->sel[i]));
                           w.Set((uint32_t)i, to_f32(env, out->w[i]));
                           probs.Set((uint32_t)i, to_f32(env, out->probs[i]));
                         }
                         r.Set("sel", sel);
                         r.Set("w", w);
                         r.Set("probs", probs);
                         return r;
                       });
    t->Queue();
    return t->Promise();
  }

  // materialise({view, path, prefix: Uint8Array, tensors: [{name, dtype, offset, permuteHeads}]}, opts) → Promise<void>
  Napi::Value Materialise(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "materialise expects an options object");
    Napi::Object o = info[0].As<Napi::Object>();
    View view = parse_view(env, o.Get("view"));
    std::string path = o.Get("path").ToString().Utf8Value();
    if (!o.Get("prefix").IsTypedArray()) type_error(env, "materialise: prefix must be a Uint8Array");
    Napi::Uint8Array pa = o.Get("prefix").As<Napi::Uint8Array>();
    std::string prefix((const char*)pa.Data(), pa.ByteLength());
    if (!o.Get("tensors").IsArray()) type_error(env, "materialise: tensors must be an array");
    std::vector<OutTensor> tensors;
    Napi::Array ta = o.Get("tensors").As<Napi::Array>();
    for (uint32_t i = 0; i < ta.Length(); i++) {
      Napi::Object t = ta.Get(i).As<Napi::Object>();
      OutTensor ot;
      ot.name = t.Get("name").ToString().Utf8Value();
      ot.dtype = parse_dtype(env, t.Get("dtype"));
      ot.offset = (uint64_t)num(env, t, "offset", 0, true);
      ot.permute_heads = (int)num(env, t, "permuteHeads", 0);
      ot.norm_add = (float)num(env, t, "normAdd", 0);
      if (t.Get("strides").IsArray() && t.Get("span").IsArray()) {  // GPT-OSS's experts: scattered into a span
        Napi::Array st = t.Get("strides").As<Napi::Array>(), sp = t.Get("span").As<Napi::Array>();
        if (st.Length() != 2 || sp.Length() != 2) type_error(env, "materialise: strides and span must be pairs");
        ot.row_stride = (int64_t)whole(env, st.Get(0u), ot.name + ": row stride", 1, MAX_SAFE);
        ot.col_stride = (int64_t)whole(env, st.Get(1u), ot.name + ": column stride", 1, MAX_SAFE);
        ot.span_offset = (uint64_t)whole(env, sp.Get(0u), ot.name + ": span offset", 0, MAX_SAFE);
        ot.span_bytes = (uint64_t)whole(env, sp.Get(1u), ot.name + ": span bytes", 0, MAX_SAFE);
      }
      tensors.push_back(ot);
    }
    auto m = model;
    Task* t = new Task(env, info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env),
                       [m, view, path, prefix, tensors](const Job& job) {
                         WeightsInUse use(*m);
                         materialise_file(*m, view, path, prefix, tensors, job);
                       },
                       [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
    t->Queue();
    return t->Promise();
  }

  // importStep({ids, loss, linears:[{T,in,out,X,G}], embRows, embGrad, normGrads, biasGrads?}) → Step
  Napi::Value ImportStep(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) type_error(env, "importStep expects the exported factors");
    Napi::Object o = info[0].As<Napi::Object>();
    auto s = std::make_shared<Step>();
    const Config& c = model->cfg;
    s->ids = int_list(env, o.Get("ids"), "ids");
    s->loss = num(env, o, "loss", 0);
    Napi::Value lv = o.Get("linears");
    if (!lv.IsArray() || (int)lv.As<Napi::Array>().Length() != model->n_linear())
      type_error(env, "the step's factors do not match this model's layers");
    Napi::Array la = lv.As<Napi::Array>();
    s->lin.resize(model->n_linear());
    for (int i = 0; i < model->n_linear(); i++) {
      if (!la.Get(i).IsObject()) type_error(env, "the step's factors must be objects {T, X, G}");
      Napi::Object f = la.Get(i).As<Napi::Object>();
      LinearFactor& lf = s->lin[i];
      // 0 rows: an expert no token of the phrase was routed to, or a MoE layer's absent dense MLP
      const bool may_be_empty = i > model->head_slot() || model->linear(i).rows == 0;
      lf.T = int_field(env, f, "T", 0, may_be_empty ? 0 : 1, c.max_pos, true);
      lf.in = model->linear(i).cols;
      lf.out = model->linear(i).rows;
      lf.X = float_span(env, s->memory, f.Get("X"), (size_t)lf.T * lf.in, "factor X");
      lf.G = float_span(env, s->memory, f.Get("G"), (size_t)lf.T * lf.out, "factor G");
    }
    s->emb_rows = int_list(env, o.Get("embRows"), "embRows");
    check_ids(env, s->emb_rows, "embRows");
    s->emb_grad = float_list(env, o.Get("embGrad"), s->emb_rows.size() * c.dim, "embGrad");
    Napi::Value nv = o.Get("normGrads");
    if (!nv.IsArray() || nv.As<Napi::Array>().Length() != model->norms.size())
      type_error(env, "the step's norm gradients do not match this model's layers");
    Napi::Array na = nv.As<Napi::Array>();
    for (uint32_t i = 0; i < na.Length(); i++)
      s->norm_grad.push_back(float_list(env, na.Get(i), model->norms[i].size(), "normGrads"));
    // bias gradients: required exactly where the model has biases (a model without biases accepts none)
    s->bias_grad.resize(model->n_linear());
    Napi::Value bv = o.Get("biasGrads");
    bool any_bias = false;
    for (int i = 0; i < model->n_linear(); i++) any_bias = any_bias || model->bias(i);
    if (any_bias) {
      if (!bv.IsArray() || (int)bv.As<Napi::Array>().Length() != model->n_linear())
        type_error(env, "the step has no bias gradients, but this model's layers have biases");
      Napi::Array ba = bv.As<Napi::Array>();
      for (int i = 0; i < model->n_linear(); i++) {
        const std::vector<float>* b = model->bias(i);
        s->bias_grad[i] = float_list(env, ba.Get(i), b ? b->size() : 0, "biasGrads");
      }
    } else if (bv.IsArray()) {
      Napi::Array ba = bv.As<Napi::Array>();
      for (uint32_t i = 0; i < ba.Length(); i++)
        if (float_list(env, ba.Get(i), (size_t)-1, "biasGrads").size() != 0)
          type_error(env, "the step has bias gradients, but this model has no biases");
    }
    try {
      check_step(*model, *s);
    } catch (const std::exception& e) {
      type_error(env, e.what());
    }
    s->max_abs = step_max_abs(*s);
    Napi::Object w = step_ctor->New({});
    StepWrap* sw = StepWrap::Unwrap(w);
    sw->norms = step_grad_norms(*model, *s);
    sw->hold(env, s);
    return w;
  }

  Napi::Value TensorNames(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto names = tensor_names(*model);
    Napi::Array a = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); i++) a.Set(i, names[i]);
    return a;
  }

  // how the weights are held: "mapped" (the page cache), "copying", "ready" or "copied" (anonymous memory on 2 MiB
  // pages; loader.cpp)
  Napi::Value WeightsMemory(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), weights_memory(*model)); }
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // the kernel path is chosen before anything runs; a forced path this CPU cannot run is refused here, in words
  std::string kernels_refused = kernels_init();
  if (!kernels_refused.empty()) throw Napi::Error::New(env, kernels_refused);
  Napi::Function step = StepWrap::Init(env);
  step_ctor = new Napi::FunctionReference(Napi::Persistent(step));
  exports.Set("Step", step);
  exports.Set("Model", ModelWrap::Init(env));
  // dequantise(dtype, bytes, count) → Float32Array: the engine's own block decoding, exposed for format tests
  exports.Set("dequantise", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                Napi::Env env = info.Env();
                DType t = parse_dtype(env, info[0]);
                if (!info[1].IsTypedArray()) type_error(env, "dequantise: bytes must be a Uint8Array");
                Napi::Uint8Array b = info[1].As<Napi::Uint8Array>();
                int64_t n = (int64_t)info[2].As<Napi::Number>().DoubleValue();
                int be = dtype_block_elems(t);
                if (n < 0 || n % be != 0 || dtype_row_bytes(t, n) > b.ByteLength())
                  type_error(env, "dequantise: count does not match the bytes given");
                Napi::Float32Array out = Napi::Float32Array::New(env, (size_t)n);
                dequantise_blocks(t, b.Data(), n / be, out.Data());
                return out;
              }));
  // quantise(dtype, Float32Array) → Uint8Array: the export's quantisers (quantise.cpp), exposed for format tests
  exports.Set("quantise", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                Napi::Env env = info.Env();
                DType t = parse_dtype(env, info[0]);
                if (!dtype_quantised(t) || !dtype_writable(t))
                  type_error(env, std::string("quantise: cannot quantise to ") + dtype_name(t));
                if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
                  type_error(env, "quantise: weights must be a Float32Array");
                Napi::Float32Array x = info[1].As<Napi::Float32Array>();
                int64_t n = (int64_t)x.ElementLength();
                if (n % dtype_block_elems(t) != 0) type_error(env, "quantise: the weights are not whole blocks");
                Napi::Uint8Array out = Napi::Uint8Array::New(env, dtype_row_bytes(t, n));
                quantise_row(t, x.Data(), out.Data(), n);
                return out;
              }));
  // kernelInfo() → { path, available, features, tuning, tunings, threads, cpu }: the kernel path in use
  // (kernel_paths.h), the paths this CPU can run, the CPU features the dispatcher read, the tuning in use and those
  // there are, the worker threads products run on, and the CPU as cpuid names it — { vendor, brand, family, model,
  // stepping, l1dBytes, l2Bytes, l3Bytes }, 0 / "" where unknown (CpuHost) — for the bench's host class
  exports.Set("kernelInfo", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                Napi::Env env = info.Env();
                Napi::Object o = Napi::Object::New(env);
                o.Set("path", kern()->name);
                auto strings = [&](const std::vector<std::string>& v) {
                  Napi::Array a = Napi::Array::New(env, v.size());
                  for (size_t i = 0; i < v.size(); i++) a.Set((uint32_t)i, v[i]);
                  return a;
                };
                o.Set("available", strings(kernel_paths_available()));
                o.Set("features", strings(cpu_features()));
                o.Set("tuning", kernel_tuning().name);
                o.Set("tunings", strings(kernel_tunings()));
                threads_init(0);
                o.Set("threads", threads_count());
                const CpuHost& h = cpu_host();
                Napi::Object c = Napi::Object::New(env);
                c.Set("vendor", h.vendor);
                c.Set("brand", h.brand);
                c.Set("family", h.family);
                c.Set("model", h.model);
                c.Set("stepping", h.stepping);
                c.Set("l1dBytes", (double)h.l1d_bytes);
                c.Set("l2Bytes", (double)h.l2_bytes);
                c.Set("l3Bytes", (double)h.l3_bytes);
                o.Set("cpu", c);
                return o;
              }));
  // setKernelPath(name) switches every later product to that path ("" = the best this CPU runs); refuses a path the
  // CPU lacks. For tests and measurements; the product path is otherwise fixed at load.
  exports.Set("setKernelPath", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                Napi::Env env = info.Env();
                std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
                std::string why = kernels_set(name);
                if (!why.empty()) throw Napi::Error::New(env, "kernel path '" + name + "': " + why);
                return Napi::String::New(env, kern()->name);
              }));
  // setKernelTuning(name) switches every later product to that tuning ("" = this CPU's); refuses an unknown name.
  // For tests and measurements: every tuning gives the same bits, only the time differs.
  exports.Set("setKernelTuning", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                Napi::Env env = info.Env();
                std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
                std::string why = kernel_tuning_set(name);
                if (!why.empty()) throw Napi::Error::New(env, "kernel tuning '" + name + "': " + why);
                return Napi::String::New(env, kernel_tuning().name);
              }));
  // matmul(dtype, weightBytes, rows, cols, x, dy, R) → { y, dx } on the active kernel path: y[R, rows] = x[R, cols]·Wᵀ
  // (matmul_wt) and dx[R, cols] = dy[R, rows]·W (matmul_w_acc). The engine's own products, exposed for kernel tests.
  exports.Set("matmul", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                Napi::Env env = info.Env();
                DType t = parse_dtype(env, info[0]);
                if (!info[1].IsTypedArray()) type_error(env, "matmul: weights must be a Uint8Array");
                Napi::Uint8Array w = info[1].As<Napi::Uint8Array>();
                int rows = info[2].As<Napi::Number>().Int32Value(), cols = info[3].As<Napi::Number>().Int32Value();
                int R = info[6].As<Napi::Number>().Int32Value();
                if (rows <= 0 || cols <= 0 || R <= 0 || cols % dtype_block_elems(t) != 0 ||
                    dtype_row_bytes(t, cols) * (uint64_t)rows > w.ByteLength())
                  type_error(env, "matmul: shape does not match the weight bytes");
                std::vector<float> x = float_list(env, info[4], (size_t)R * cols, "matmul: x");
                std::vector<float> dy = float_list(env, info[5], (size_t)R * rows, "matmul: dy");
                Mat W;
                W.data = w.Data();
                W.dtype = t;
                W.rows = rows;
                W.cols = cols;
                std::vector<float> y((size_t)R * rows), dx((size_t)R * cols, 0.f);
                matmul_wt(y.data(), x.data(), R, W);
                matmul_w_acc(dx.data(), dy.data(), R, W, 1.f);
                Napi::Object o = Napi::Object::New(env);
                o.Set("y", to_f32(env, y));
                o.Set("dx", to_f32(env, dx));
                return o;
              }));
  // measureBandwidth(gib, threads) → GB/s and measureFlops(threads) → GFLOP/s: the machine's limits, measured on
  // the active kernel path (roofline.h). Synchronous: for the benchmark only.
  exports.Set("measureBandwidth", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                double gib = info[0].As<Napi::Number>().DoubleValue();
                int threads = info[1].As<Napi::Number>().Int32Value();
                if (!(gib > 0) || threads < 1) type_error(info.Env(), "measureBandwidth(gib > 0, threads ≥ 1)");
                return Napi::Number::New(info.Env(), measure_bandwidth_gbs(gib, threads, 3));
              }));
  exports.Set("measureFlops", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                int threads = info[0].As<Napi::Number>().Int32Value();
                if (threads < 1) type_error(info.Env(), "measureFlops(threads ≥ 1)");
                return Napi::Number::New(info.Env(), measure_flops_gflops(threads));
              }));
  // timeProducts(dtype, rows, cols, R, reps, cold) → { forward, backward }: best seconds of matmul_wt and
  // matmul_w_acc on random weights of that shape (product_bench.h). Synchronous: for the benchmark only.
  exports.Set("timeProducts", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                Napi::Env env = info.Env();
                DType t = parse_dtype(env, info[0]);
                int rows = info[1].As<Napi::Number>().Int32Value(), cols = info[2].As<Napi::Number>().Int32Value();
                int R = info[3].As<Napi::Number>().Int32Value(), reps = info[4].As<Napi::Number>().Int32Value();
                if (dtype_quantised(t) || rows <= 0 || cols <= 0 || R <= 0 || reps < 1)
                  type_error(env, "timeProducts(F32|F16|BF16, rows > 0, cols > 0, R > 0, reps ≥ 1, cold)");
                threads_init(0);
                ProductTimes p = time_products(t, rows, cols, R, reps, info[5].ToBoolean());
                Napi::Object o = Napi::Object::New(env);
                o.Set("forward", p.forward_s);
                o.Set("backward", p.backward_s);
                return o;
              }));
  // the step memory's cache (step_memory.h): bytes held by steps and by the cache, slabs mapped and reused so far
  exports.Set("stepMemory", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    const StepMemoryStats st = step_memory_stats();
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("liveBytes", (double)st.live_bytes);
    o.Set("cachedBytes", (double)st.cached_bytes);
    o.Set("slabsMapped", (double)st.slabs_mapped);
    o.Set("slabsReused", (double)st.slabs_reused);
    return o;
  }));
  exports.Set("threads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
                threads_init(0);
                return Napi::Number::New(info.Env(), threads_count());
              }));
  return exports;
}

}  // namespace

NODE_API_MODULE(soliloquy_engine, Init)
