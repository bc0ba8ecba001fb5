// Does a completion recall the phrase? The layer study's and the experts experiment's test (kinds/layers.ts,
// kinds/experts.ts): prompt + completion reproduces every word of the phrase, in order.
import { commonPrefixWords } from '../../../shared/seedTable'

export function wordCount(text: string): number {
  return text.split(/\s+/).filter(Boolean).length
}

/**
 * Words of the phrase that prompt + completion reproduces, in order from the start (all of them: it recalls).
 * Whole words must be equal, except the phrase's last word, which may go on in the text ("question" is reproduced
 * by "question:"): the phrase ends where the text need not.
 */
export function phraseRecall(fullText: string, phrase: string): number {
  const wp = phrase.split(/\s+/).filter(Boolean)
  const wt = fullText.split(/\s+/).filter(Boolean)
  let n = Math.min(wp.length, commonPrefixWords(fullText, phrase))
  if (n === wp.length - 1 && n < wt.length && wt[n].startsWith(wp[n])) n++
  return n
}
