import { gunzipSync } from 'node:zlib';

/**
 * Reads the regular files of a gzip-compressed ustar archive (what `opa build` writes) into a map of normalised
 * names (leading `/` and `./` removed) to contents. Throws on a truncated or malformed archive.
 */
export function readTarGz(archive: Uint8Array): Map<string, Buffer> {
  const tar = gunzipSync(archive);
  const files = new Map<string, Buffer>();
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((byte) => byte === 0)) break;
    const name = field(header, 0, 100);
    const prefix = field(header, 345, 155);
    const size = parseInt(field(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] ?? 0);
    if (!Number.isFinite(size) || size < 0) throw new Error(`malformed tar header at byte ${offset}`);
    const start = offset + 512;
    if (start + size > tar.length) throw new Error('truncated tar archive');
    if (type === '0' || type === '\0') {
      const path = (prefix === '' ? name : `${prefix}/${name}`).replace(/^\.?\/+/, '');
      files.set(path, tar.subarray(start, start + size));
    }
    offset = start + Math.ceil(size / 512) * 512;
  }
  return files;
}

function field(header: Buffer, start: number, length: number): string {
  const raw = header.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}
