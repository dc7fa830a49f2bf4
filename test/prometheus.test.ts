import { describe, expect, it } from 'vitest';
import { histogramSeries, parseMetrics } from './prometheus.js';

// The strict parser that test/http/metrics.test.ts reads /metrics with refuses what a scraper would.

const histogram = (lines: string) => `# HELP h Latency.\n# TYPE h histogram\n${lines}`;

describe('parseMetrics', () => {
  it('reads families, labels with escapes, values and histograms', () => {
    const families = parseMetrics(
      [
        '# HELP c_total Things done.',
        '# TYPE c_total counter',
        'c_total{kind="a\\"b\\\\c\\nd",x="1"} 3',
        'c_total{kind="e"} 1e3 1700000000000',
        '# a plain comment',
        '# HELP g Level.',
        '# TYPE g gauge',
        'g Nan',
        ...histogram(
          'h_bucket{le="0.1",r="/a"} 1\nh_bucket{le="1",r="/a"} 2\nh_bucket{le="+Inf",r="/a"} 2\nh_sum{r="/a"} 0.7\nh_count{r="/a"} 2\n',
        ).split('\n'),
      ].join('\n'),
    );
    expect(families.map((f) => [f.name, f.type])).toEqual([
      ['c_total', 'counter'],
      ['g', 'gauge'],
      ['h', 'histogram'],
    ]);
    expect(families[0]?.samples).toEqual([
      { name: 'c_total', labels: { kind: 'a"b\\c\nd', x: '1' }, value: 3 },
      { name: 'c_total', labels: { kind: 'e' }, value: 1000 },
    ]);
    expect(families[1]?.samples[0]?.value).toBeNaN();
    const [series] = histogramSeries(families[2] ?? { name: '', type: 'histogram', help: '', samples: [] });
    expect(series).toEqual({
      labels: { r: '/a' },
      buckets: new Map([
        [0.1, 1],
        [1, 2],
        [Number.POSITIVE_INFINITY, 2],
      ]),
      sum: 0.7,
      count: 2,
    });
  });

  it.each([
    ['an unclosed label value', 'a{b="c} 1\n', 'does not end'],
    ['an unquoted label value', 'a{b=c} 1\n', 'not quoted'],
    ['a value that is no number', 'a abc\n', 'not a number'],
    ['a bad metric name', '1a 1\n', 'bad metric name'],
    ['a bad label name', 'a{1b="x"} 1\n', 'bad label name'],
    ['a bad escape', 'a{b="\\t"} 1\n', 'bad escape'],
    ['a second TYPE', '# TYPE a gauge\n# TYPE a counter\na 1\n', 'second TYPE'],
    ['a TYPE after samples', 'a 1\n# TYPE a gauge\n', 'after its samples'],
    ['an unknown type', '# TYPE a meter\n', 'unknown type'],
    ['a family split in two', 'a 1\nb 1\na{x="y"} 2\n', 'not together'],
    ['a series twice', 'a{x="1",y="2"} 1\na{y="2",x="1"} 2\n', 'twice'],
    ['a negative counter', '# TYPE a_total counter\na_total -1\n', 'cannot be'],
    ['no final line break', 'a 1', 'line break'],
    ['garbage after the value', 'a 1 2 3\n', 'expected'],
    [
      'buckets that shrink',
      histogram('h_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
      'less',
    ],
    [
      'buckets out of order',
      histogram('h_bucket{le="2"} 1\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'),
      'order',
    ],
    ['no +Inf bucket', histogram('h_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'), '+Inf'],
    ['+Inf other than _count', histogram('h_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n'), 'is not _count'],
    ['no _sum', histogram('h_bucket{le="+Inf"} 1\nh_count 1\n'), 'no _sum'],
  ])('refuses %s', (_, text, problem) => {
    expect(() => parseMetrics(text)).toThrow(problem);
  });
});
