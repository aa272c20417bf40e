import { describe, expect, it } from 'vitest';
import { parseLines, toLines } from './pool-form';

describe(parseLines.name, () => {
  it('reads one backend per line, with an optional weight, skipping blanks and comments', () => {
    const result = parseLines('# api\nhttp://127.0.0.1:9001 3\n\n127.0.0.1:9002\nhttps://api.internal:8443/\n', 'p2c');
    expect(result).toEqual({
      ok: true,
      body: {
        urls: ['http://127.0.0.1:9001', 'http://127.0.0.1:9002', 'https://api.internal:8443'],
        algo: 'p2c',
        weights: { 'http://127.0.0.1:9001': 3 },
      },
    });
  });

  it('names each bad line', () => {
    const result = parseLines('ftp://x:21\nhttp://a:1 0\nhttp://a:1\nhttp://a:1/\nhttp://b:1 2 3\nhttp://[::1', 'ewma');
    expect(result).toEqual({
      ok: false,
      problems: [
        "line 1: 'ftp://x:21' must use http or https",
        'line 2: the weight must be a number > 0',
        "line 3: 'http://a:1' is listed twice",
        "line 4: 'http://a:1/' is listed twice",
        'line 5: write "url" or "url weight"',
        "line 6: 'http://[::1' is not a URL",
      ],
    });
    expect(parseLines('\n  \n', 'ewma')).toEqual({ ok: false, problems: ['a pool needs at least one backend'] });
  });

  it('round-trips what toLines writes', () => {
    const backends = [
      { url: 'http://127.0.0.1:9001', weight: 1 },
      { url: 'http://127.0.0.1:9002', weight: 2.5 },
    ];
    const result = parseLines(toLines(backends), 'ewma');
    expect(result.ok && result.body).toEqual({
      urls: backends.map((b) => b.url),
      algo: 'ewma',
      weights: { 'http://127.0.0.1:9002': 2.5 },
    });
  });
});
