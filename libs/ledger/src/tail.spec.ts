import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeFileSystem } from './file-system';
import { linesBackward } from './tail';
import { tempDir } from './testing/helpers';

describe(linesBackward.name, () => {
  async function backwards(
    content: string | Buffer,
    end = Buffer.byteLength(content),
    max = 1 << 20,
  ): Promise<(string | null)[]> {
    const { dir, remove } = await tempDir();
    try {
      const path = join(dir, 'f');
      await writeFile(path, content);
      const handle = await nodeFileSystem.openRead(path);
      try {
        const lines: (string | null)[] = [];
        for await (const line of linesBackward(handle, end, max)) lines.push(line.text);
        return lines;
      } finally {
        await handle.close();
      }
    } finally {
      await remove();
    }
  }

  it('yields the lines last first, across chunk boundaries, with their offsets', async () => {
    // Lines of 1..40 000 bytes so several cross the 64 KiB chunks it reads; one empty line among them.
    const lines = Array.from({ length: 30 }, (_, i) => (i === 7 ? '' : `${i}:${'é'.repeat(i * 1333)}`));
    const content = lines.map((line) => `${line}\n`).join('');
    expect(await backwards(content)).toEqual([...lines].reverse());
    // Up to a byte offset only (the end of line 10), and a last line without a newline.
    const end = Buffer.byteLength(
      lines
        .slice(0, 10)
        .map((line) => `${line}\n`)
        .join(''),
    );
    expect(await backwards(content, end)).toEqual(lines.slice(0, 10).reverse());
    expect(await backwards('a\nb\nc')).toEqual(['c', 'b', 'a']);
    expect(await backwards('')).toEqual([]);
  });

  it('gives null for a line that is not valid UTF-8, where a lenient decoding would give U+FFFD', async () => {
    const fffd = Buffer.from('{"s":"\uFFFD"}\n');
    const edited = Buffer.from(fffd.toString('latin1').replace('\xEF\xBF\xBD', '\xFF'), 'latin1');
    expect(edited.toString('utf8')).toBe(fffd.toString('utf8'));
    expect(await backwards(Buffer.concat([fffd, edited, fffd]))).toEqual(['{"s":"\uFFFD"}', null, '{"s":"\uFFFD"}']);
  });

  it('stops with a RangeError at a line longer than the bound (memory stays bounded)', async () => {
    await expect(backwards(`short\n${'x'.repeat(300_000)}\nlast\n`, undefined, 100_000)).rejects.toThrow(RangeError);
  });
});
