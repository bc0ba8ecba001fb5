// A minimal unpickler for the data.pkl of a torch.save checkpoint: a (ordered) dict of name → tensor. It understands
// exactly the opcodes torch.save writes for that (protocol 2–4) and resolves exactly four kinds of globals —
// torch._utils._rebuild_tensor_v2, collections.OrderedDict and the typed storages torch.HalfStorage /
// BFloat16Storage / FloatStorage — to plain descriptions. Nothing is ever imported or called: any other opcode or
// global is refused with an error naming it, so a hostile pickle (GLOBAL os.system + REDUCE) is data, never code.
import { ModelFormatError } from '../../config'
import type { DType } from '../safetensors'

/** A storage named by BINPERSID: data/<key> inside the archive, `numel` elements of `dtype`. */
export interface StorageRef {
  kind: 'storage'
  key: string
  dtype: DType
  numel: number
}

/** torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks) */
export interface TensorRef {
  kind: 'tensor'
  storage: StorageRef
  storageOffset: number
  shape: number[]
  stride: number[]
}

type Global = { kind: 'global'; name: string }
export type PyValue = null | boolean | number | string | PyValue[] | Map<string, PyValue> | TensorRef | StorageRef | Global

const STORAGE_DTYPES: Record<string, DType> = {
  'torch.HalfStorage': 'F16',
  'torch.BFloat16Storage': 'BF16',
  'torch.FloatStorage': 'F32',
}
const ALLOWED_CALLABLES = new Set(['torch._utils._rebuild_tensor_v2', 'collections.OrderedDict'])

const OPCODE_NAMES: Record<number, string> = {
  0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD', 0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ',
  0x92: 'NEWOBJ_EX', 0x50: 'PERSID', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x5d: 'EMPTY_LIST', 0x61: 'APPEND',
  0x65: 'APPENDS', 0x6c: 'LIST', 0x64: 'DICT', 0x53: 'STRING', 0x56: 'UNICODE', 0x49: 'INT', 0x4c: 'LONG',
  0x46: 'FLOAT', 0x47: 'BINFLOAT', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS',
  0x91: 'FROZENSET', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x30: 'POP', 0x31: 'POP_MARK',
  0x32: 'DUP',
}

/** The opcodes that make a new value: EMPTY_DICT, EMPTY_TUPLE, TUPLE, TUPLE1-3, BINUNICODE, SHORT_BINUNICODE,
 *  LONG1, GLOBAL, STACK_GLOBAL, BINPERSID, REDUCE. */
const BUILDS = new Set([0x7d, 0x29, 0x74, 0x85, 0x86, 0x87, 0x58, 0x8c, 0x8a, 0x63, 0x93, 0x51, 0x52])

class Mark {}
const MARK = new Mark()

/**
 * Bounds on what a data.pkl may make the unpickler hold, far above what torch.save writes (its stack holds a batch of
 * 1000 dict items at most, two per item; ~10 memo entries and objects per tensor, ~1000 tensors per file): 100M
 * EMPTY_DICT opcodes took 4.7 GB and aborted the process, 17M MEMOIZE ran into Map's own limit with a message that
 * named nothing.
 */
export const PICKLE_MAX_STACK = 1 << 16
export const PICKLE_MAX_MEMO = 1 << 20
export const PICKLE_MAX_OBJECTS = 1 << 20

/** Unpickles torch.save's data.pkl; `label` names the checkpoint in errors. */
export function unpickleTorch(buf: Buffer, label: string): PyValue {
  const stack: (PyValue | Mark)[] = []
  const memo = new Map<number, PyValue>()
  let p = 0
  /** dicts, tuples, strings and tensors built so far (PICKLE_MAX_OBJECTS) */
  let objects = 0
  const fail = (why: string): never => {
    throw new ModelFormatError(`${label}: ${why}`)
  }
  const remember = (key: number): void => {
    if (memo.size >= PICKLE_MAX_MEMO && !memo.has(key))
      fail(`data.pkl stores more than ${PICKLE_MAX_MEMO} memo entries (at byte ${p - 1}); torch.save writes about ten per tensor`)
    memo.set(key, top())
  }
  const need = (n: number): void => {
    if (p + n > buf.length) fail('data.pkl ends in the middle of an instruction (truncated or corrupt)')
  }
  const pop = (): PyValue => {
    const v = stack.pop()
    if (v === undefined || v instanceof Mark) return fail('data.pkl is malformed (stack underflow)')
    return v
  }
  const popMark = (): PyValue[] => {
    const items: PyValue[] = []
    for (;;) {
      const v = stack.pop()
      if (v === undefined) return fail('data.pkl is malformed (no MARK)')
      if (v instanceof Mark) return items.reverse()
      items.push(v)
    }
  }
  const top = (): PyValue => {
    const v = stack[stack.length - 1]
    if (v === undefined || v instanceof Mark) return fail('data.pkl is malformed (stack underflow)')
    return v
  }
  const global = (module: string, name: string): Global => {
    const full = `${module}.${name}`
    if (!ALLOWED_CALLABLES.has(full) && !(full in STORAGE_DTYPES)) {
      if (/^torch\..*Storage$/.test(full))
        fail(`tensor storage ${full} is not supported; only float16, bfloat16 and float32 tensors are`)
      fail(`pickle imports ${full}; only torch tensors are allowed`)
    }
    return { kind: 'global', name: full }
  }
  const isGlobal = (v: PyValue, name?: string): v is Global =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map) && v.kind === 'global' && (name === undefined || v.name === name)
  const intTuple = (v: PyValue, what: string): number[] => {
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isInteger(x))) fail(`a tensor's ${what} is not a tuple of integers`)
    return v as number[]
  }
  const setItems = (dict: PyValue, items: PyValue[]): void => {
    if (!(dict instanceof Map)) fail('data.pkl sets items on something that is not a dict')
    if (items.length % 2 !== 0) fail('data.pkl is malformed (odd SETITEMS)')
    for (let i = 0; i < items.length; i += 2) {
      const k = items[i]
      if (typeof k !== 'string') fail('a dict key in data.pkl is not a string')
      ;(dict as Map<string, PyValue>).set(k as string, items[i + 1])
    }
  }

  for (;;) {
    if (stack.length > PICKLE_MAX_STACK)
      fail(`data.pkl holds more than ${PICKLE_MAX_STACK} values on its stack (at byte ${p}); torch.save's stack stays below a few thousand`)
    need(1)
    const op = buf[p++]
    // every opcode that builds a value counts against the object budget (opcodes that move values do not)
    if (BUILDS.has(op) && ++objects > PICKLE_MAX_OBJECTS)
      fail(`data.pkl builds more than ${PICKLE_MAX_OBJECTS} objects (at byte ${p - 1}); torch.save writes about ten per tensor`)
    switch (op) {
      case 0x80: // PROTO n
        need(1)
        if (buf[p] > 5) fail(`data.pkl uses pickle protocol ${buf[p]}`)
        p += 1
        break
      case 0x95: // FRAME: an 8-byte length hint; the frame's contents follow inline
        need(8)
        p += 8
        break
      case 0x7d: // EMPTY_DICT
        stack.push(new Map())
        break
      case 0x29: // EMPTY_TUPLE
        stack.push([])
        break
      case 0x28: // MARK
        stack.push(MARK)
        break
      case 0x75: {
        // SETITEMS
        const items = popMark()
        setItems(top(), items)
        break
      }
      case 0x73: {
        // SETITEM
        const v = pop()
        const k = pop()
        setItems(top(), [k, v])
        break
      }
      case 0x58: {
        // BINUNICODE: 4-byte length + utf-8
        need(4)
        const n = buf.readUInt32LE(p)
        p += 4
        need(n)
        stack.push(buf.toString('utf8', p, p + n))
        p += n
        break
      }
      case 0x8c: {
        // SHORT_BINUNICODE: 1-byte length + utf-8
        need(1)
        const n = buf[p++]
        need(n)
        stack.push(buf.toString('utf8', p, p + n))
        p += n
        break
      }
      case 0x4a: // BININT: signed 4 bytes
        need(4)
        stack.push(buf.readInt32LE(p))
        p += 4
        break
      case 0x4b: // BININT1
        need(1)
        stack.push(buf[p++])
        break
      case 0x4d: // BININT2
        need(2)
        stack.push(buf.readUInt16LE(p))
        p += 2
        break
      case 0x8a: {
        // LONG1: n-byte little-endian two's complement (element counts past 2^31)
        need(1)
        const n = buf[p++]
        need(n)
        if (n > 7) fail('data.pkl holds an integer too large for a tensor size')
        let v = 0
        for (let i = n - 1; i >= 0; i--) v = v * 256 + buf[p + i]
        if (n > 0 && buf[p + n - 1] & 0x80) v -= 2 ** (8 * n)
        p += n
        stack.push(v)
        break
      }
      case 0x74: // TUPLE
        stack.push(popMark())
        break
      case 0x85: // TUPLE1
        stack.push([pop()])
        break
      case 0x86: {
        // TUPLE2
        const b = pop()
        stack.push([pop(), b])
        break
      }
      case 0x87: {
        // TUPLE3
        const c = pop()
        const b = pop()
        stack.push([pop(), b, c])
        break
      }
      case 0x88: // NEWTRUE
        stack.push(true)
        break
      case 0x89: // NEWFALSE
        stack.push(false)
        break
      case 0x4e: // NONE
        stack.push(null)
        break
      case 0x63: {
        // GLOBAL "module\nname\n"
        const nl1 = buf.indexOf(0x0a, p)
        const nl2 = nl1 < 0 ? -1 : buf.indexOf(0x0a, nl1 + 1)
        if (nl2 < 0) fail('data.pkl is malformed (unterminated GLOBAL)')
        const module = buf.toString('utf8', p, nl1)
        const name = buf.toString('utf8', nl1 + 1, nl2)
        p = nl2 + 1
        stack.push(global(module, name))
        break
      }
      case 0x93: {
        // STACK_GLOBAL (protocol 4): module and name are strings on the stack
        const name = pop()
        const module = pop()
        if (typeof module !== 'string' || typeof name !== 'string') fail('data.pkl is malformed (STACK_GLOBAL)')
        stack.push(global(module as string, name as string))
        break
      }
      case 0x51: {
        // BINPERSID: ('storage', storage type, key, location, numel) → data/<key> in the archive
        const pid = pop()
        if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) fail('data.pkl has a persistent id that is not a torch storage')
        const arr = pid as PyValue[]
        const type = arr[1]
        if (!isGlobal(type) || !(type.name in STORAGE_DTYPES)) fail('data.pkl has a storage of an unknown type')
        const t = type as Global
        if (typeof arr[2] !== 'string' || typeof arr[4] !== 'number') fail('data.pkl has a malformed storage id')
        stack.push({ kind: 'storage', key: arr[2] as string, dtype: STORAGE_DTYPES[t.name], numel: arr[4] as number })
        break
      }
      case 0x52: {
        // REDUCE: callable(*args), only for the allow-listed callables
        const args = pop()
        const fn = pop()
        if (!isGlobal(fn) || !ALLOWED_CALLABLES.has(fn.name))
          fail(`data.pkl calls ${isGlobal(fn) ? fn.name : 'something that is not a function'}; only torch tensors are allowed`)
        if (!Array.isArray(args)) fail('data.pkl is malformed (REDUCE without an argument tuple)')
        const a = args as PyValue[]
        if ((fn as Global).name === 'collections.OrderedDict') {
          if (a.length !== 0) fail('data.pkl builds an OrderedDict from arguments (not what torch.save writes)')
          stack.push(new Map())
          break
        }
        const storage = a[0] as StorageRef
        if (!storage || typeof storage !== 'object' || (storage as StorageRef).kind !== 'storage')
          fail('_rebuild_tensor_v2 is not given a storage')
        if (typeof a[1] !== 'number') fail('a tensor has no storage offset')
        stack.push({
          kind: 'tensor',
          storage,
          storageOffset: a[1] as number,
          shape: intTuple(a[2], 'size'),
          stride: intTuple(a[3], 'stride'),
        })
        break
      }
      case 0x71: // BINPUT
        need(1)
        remember(buf[p++])
        break
      case 0x72: // LONG_BINPUT
        need(4)
        remember(buf.readUInt32LE(p))
        p += 4
        break
      case 0x94: // MEMOIZE
        remember(memo.size)
        break
      case 0x68: {
        // BINGET
        need(1)
        const i = buf[p++]
        if (!memo.has(i)) fail('data.pkl is malformed (BINGET of an unknown memo entry)')
        stack.push(memo.get(i)!)
        break
      }
      case 0x6a: {
        // LONG_BINGET
        need(4)
        const i = buf.readUInt32LE(p)
        p += 4
        if (!memo.has(i)) fail('data.pkl is malformed (LONG_BINGET of an unknown memo entry)')
        stack.push(memo.get(i)!)
        break
      }
      case 0x2e: // STOP
        return pop()
      default:
        return fail(
          `data.pkl uses pickle opcode ${OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} at byte ${p - 1}; only what torch.save writes for tensors and dicts is accepted`,
        )
    }
  }
}
