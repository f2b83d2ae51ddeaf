/**
 * Z85 (ZeroMQ RFC 32), the text form of CURVE keys: 4 bytes <-> 5 characters. The ZAP handler
 * receives a client's key as 32 raw bytes and compares its Z85 text with the allow-list.
 */
const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new RangeError(`z85 encodes multiples of 4 bytes, got ${bytes.length}`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let value =
      (((bytes[i] as number) << 24) >>> 0) +
      ((bytes[i + 1] as number) << 16) +
      ((bytes[i + 2] as number) << 8) +
      (bytes[i + 3] as number);
    const chunk: string[] = [];
    for (let k = 0; k < 5; k++) {
      chunk.unshift(ALPHABET[value % 85] as string);
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/** Whether `text` is a Z85 CURVE key (40 characters of the alphabet = 32 bytes). */
export function isZ85Key(text: string): boolean {
  return text.length === 40 && [...text].every((c) => ALPHABET.includes(c));
}
