// Errors of reading a GGUF header. Each says where in the file it stopped and what to do.

/** The bytes are not a GGUF header edgellm can read (wrong magic, unsupported version, a value
 * out of bounds, a hostile length). Re-reading more of the file will not help. */
export class GgufHeaderError extends Error {
  override readonly name = 'GgufHeaderError';
  constructor(
    message: string,
    /** Byte offset in the file where the problem was found. */
    readonly offset: number,
  ) {
    super(`GGUF header, byte ${offset}: ${message}`);
  }
}

/** The prefix ended inside the header: read at least `neededBytes` of the file and try again
 * (a stream reader does this), or the file itself is truncated. */
export class GgufTruncatedError extends Error {
  override readonly name = 'GgufTruncatedError';
  constructor(
    /** What was being read. */
    readonly reading: string,
    /** Bytes available. */
    readonly availableBytes: number,
    /** The shortest prefix that could get past this point. */
    readonly neededBytes: number,
  ) {
    super(
      `GGUF header truncated: ${reading} needs bytes up to ${neededBytes}, only ${availableBytes} available; read more of the file (or the file is cut short)`,
    );
  }
}

/** The header parsed, but it lacks what the cost model needs (a metadata key, a sane value). */
export class GgufShapeError extends Error {
  override readonly name = 'GgufShapeError';
}
