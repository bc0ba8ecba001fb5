// Per-model texts the metrics are measured against — reference continuation, probe texts, paraphrased prompts —
// stored by the model's fingerprint (the same weights opened from another directory share them). Nothing stored:
// the preset's (preset.json beside the model, or the seed's defaults).
import type { DB } from '../db'

export interface StoredTexts {
  reference: string | null
  probes: Record<string, string>
  paraphrases: string[]
  updatedAt: string
}

export function getModelTexts(db: DB, fingerprint: string): StoredTexts | undefined {
  const r = db.prepare('SELECT * FROM model_texts WHERE fingerprint = ?').get(fingerprint) as
    | { reference: string | null; probes: string; paraphrases: string; updated_at: string }
    | undefined
  if (!r) return undefined
  return {
    reference: r.reference,
    probes: JSON.parse(r.probes) as Record<string, string>,
    paraphrases: JSON.parse(r.paraphrases) as string[],
    updatedAt: r.updated_at,
  }
}

export function saveModelTexts(db: DB, fingerprint: string, t: Omit<StoredTexts, 'updatedAt'>): void {
  db.prepare(
    `INSERT INTO model_texts (fingerprint, reference, probes, paraphrases, updated_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(fingerprint) DO UPDATE SET reference = excluded.reference, probes = excluded.probes,
       paraphrases = excluded.paraphrases, updated_at = excluded.updated_at`,
  ).run(fingerprint, t.reference, JSON.stringify(t.probes), JSON.stringify(t.paraphrases), new Date().toISOString())
}

export function resetModelTexts(db: DB, fingerprint: string): void {
  db.prepare('DELETE FROM model_texts WHERE fingerprint = ?').run(fingerprint)
}
