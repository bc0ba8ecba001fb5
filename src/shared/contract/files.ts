// Browser mode's file browser (issue 23): a model is opened by browsing the folders the server allows, not by typing
// a server path. The request names a folder (absent: the allowed folders themselves); the answer lists what is in it.
import { z } from 'zod'
import { text } from './fields'
import { MAX_PATH_CHARS } from './limits'

export const browseFilesRequest = z
  .object({
    /** an absolute path inside one of the allowed folders (absent: list the allowed folders) */
    dir: text(MAX_PATH_CHARS).min(1, 'no folder given').optional(),
  })
  .strict()

export const browseEntrySchema = z.object({
  name: z.string(),
  /** the absolute path to open or to browse next */
  path: z.string(),
  /** dir: a folder to browse; model: something openModel opens (a folder with config.json or params.json, a .gguf file) */
  kind: z.enum(['dir', 'model']),
})

export const browseResultSchema = z.object({
  /** the folders the server allows (each resolved: symlinks followed) */
  roots: z.array(z.string()),
  /** the folder listed (null: the roots are listed) */
  dir: z.string().nullable(),
  /** the folder above (null: dir is a root, or the roots are listed) */
  parent: z.string().nullable(),
  entries: z.array(browseEntrySchema),
  /** why nothing can be browsed, in words (no folder allowed) */
  note: z.string().optional(),
})

export type BrowseFilesRequest = z.infer<typeof browseFilesRequest>
export type BrowseEntry = z.infer<typeof browseEntrySchema>
export type BrowseResult = z.infer<typeof browseResultSchema>
