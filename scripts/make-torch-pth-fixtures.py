# Writes small checkpoints with real torch.save (PyTorch's own zip writer and pickler) for test/engine-meta.test.ts:
# an OrderedDict state dict with fp16/bf16/fp32 tensors, a tensor that is a slice of a larger storage (non-zero
# storage offset) and two tensors sharing one storage; a non-contiguous (transposed) tensor; and the legacy
# (pre-1.6, non-zip) format. The expected values are written beside them as JSON (float64 via .double()).
# Run: /usr/bin/python3 scripts/make-torch-pth-fixtures.py test/fixtures/torch-pth   (needs python3-torch)
import collections, json, sys, os
import torch

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
g = torch.Generator().manual_seed(7)
big = torch.randn(6, 5, generator=g).to(torch.bfloat16)
shared = torch.randn(10, generator=g).to(torch.float16)
sd = collections.OrderedDict()
sd["half"] = torch.randn(3, 4, generator=g).to(torch.float16)
sd["bf16_slice"] = big[2:5]            # contiguous, storage offset 10 elements into a 30-element storage
sd["float"] = torch.randn(2, 3, generator=g)
sd["shared_a"] = shared[:4]             # two views of one storage
sd["shared_b"] = shared[4:]
sd["vector"] = torch.randn(7, generator=g).to(torch.float16)
torch.save(sd, os.path.join(out, "state.pth"))
json.dump({k: {"shape": list(v.shape), "values": v.double().flatten().tolist()} for k, v in sd.items()},
          open(os.path.join(out, "state.json"), "w"))
torch.save({"w": torch.randn(4, 3, generator=g).to(torch.float16).t()}, os.path.join(out, "transposed.pth"))
torch.save({"w": torch.randn(2, 2, generator=g).to(torch.float16)}, os.path.join(out, "legacy.pth"),
           _use_new_zipfile_serialization=False)
torch.save({"w": torch.arange(6, dtype=torch.int64)}, os.path.join(out, "int64.pth"))
print("torch", torch.__version__)
