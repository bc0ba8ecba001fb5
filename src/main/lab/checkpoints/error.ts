// A checkpoint that cannot be saved, found, verified or exported, said in words (file and reason).
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CheckpointError'
  }
}
