"""Source of wizevol's dev set (wizevol/eval/wizevol_dev.jsonl): Python problems in HumanEval's shape, written
for this project, none taken from HumanEval or MBPP. Evol Stop decides on it; tests/eval/test_dev_set.py runs
every canonical solution in the sandbox, checks that a wrong one fails, and runs the contamination filter.

    python tools/build_dev_set.py wizevol/eval/wizevol_dev.jsonl
"""
import json
import sys
import textwrap

P = []


def add(entry, sig, doc, body, tests, imports=""):
    prompt = (imports + "\n\n" if imports else "") + f"def {entry}{sig}:\n" + textwrap.indent('"""' + textwrap.dedent(doc).strip("\n") + '\n"""', "    ") + "\n"
    sol = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    test = "def check(candidate):\n" + textwrap.indent(textwrap.dedent(tests).strip("\n"), "    ") + "\n"
    P.append(dict(entry_point=entry, prompt=prompt, canonical_solution=sol, test=test))

add("compress_ranges", "(nums: List[int]) -> List[str]", """
Given a sorted list of distinct integers, describe it as ranges: a run of consecutive
integers becomes "first-last", a lone integer becomes its own string.
>>> compress_ranges([1, 2, 3, 5, 7, 8])
['1-3', '5', '7-8']
>>> compress_ranges([])
[]
""", """
out = []
i = 0
while i < len(nums):
    j = i
    while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
        j += 1
    out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
    i = j + 1
return out
""", """
assert candidate([1, 2, 3, 5, 7, 8]) == ['1-3', '5', '7-8']
assert candidate([]) == []
assert candidate([4]) == ['4']
assert candidate([-3, -2, -1, 0, 2]) == ['-3-0', '2']
assert candidate([1, 3, 5]) == ['1', '3', '5']
assert candidate(list(range(10, 20))) == ['10-19']
""", "from typing import List")

add("interleave_strings", "(a: str, b: str) -> str", """
Take characters from a and b in turn, starting with a. When one string runs out,
append the rest of the other one.
>>> interleave_strings('abc', 'XY')
'aXbYc'
""", """
out = []
for i in range(max(len(a), len(b))):
    if i < len(a):
        out.append(a[i])
    if i < len(b):
        out.append(b[i])
return ''.join(out)
""", """
assert candidate('abc', 'XY') == 'aXbYc'
assert candidate('', 'hello') == 'hello'
assert candidate('ab', 'WXYZ') == 'aWbXYZ'
assert candidate('', '') == ''
assert candidate('12', '34') == '1324'
""")

add("bucket_by_length", "(words: List[str]) -> Dict[int, List[str]]", """
Group words by their length. Each bucket is sorted alphabetically and keeps duplicates.
>>> bucket_by_length(['pear', 'fig', 'kiwi', 'apple'])
{4: ['kiwi', 'pear'], 3: ['fig'], 5: ['apple']}
""", """
out = {}
for w in words:
    out.setdefault(len(w), []).append(w)
return {k: sorted(v) for k, v in out.items()}
""", """
assert candidate(['pear', 'fig', 'kiwi', 'apple']) == {4: ['kiwi', 'pear'], 3: ['fig'], 5: ['apple']}
assert candidate([]) == {}
assert candidate(['b', 'a', 'b']) == {1: ['a', 'b', 'b']}
assert candidate(['', 'zz']) == {0: [''], 2: ['zz']}
""", "from typing import Dict, List")

add("bump_version", "(version: str) -> str", """
A version is dot-separated non-negative integers, like '1.4.9'. Return the version with
its last part increased by one, keeping every other part as written.
>>> bump_version('1.4.9')
'1.4.10'
>>> bump_version('7')
'8'
""", """
parts = version.split('.')
parts[-1] = str(int(parts[-1]) + 1)
return '.'.join(parts)
""", """
assert candidate('1.4.9') == '1.4.10'
assert candidate('7') == '8'
assert candidate('0.0.0') == '0.0.1'
assert candidate('2.09.99') == '2.09.100'
assert candidate('10.20') == '10.21'
""")

add("clamp_all", "(values: List[float], low: float, high: float) -> List[float]", """
Limit every value to the closed interval [low, high]. If low is greater than high,
raise ValueError.
>>> clamp_all([-5, 3, 12], 0, 10)
[0, 3, 10]
""", """
if low > high:
    raise ValueError('low > high')
return [min(max(v, low), high) for v in values]
""", """
assert candidate([-5, 3, 12], 0, 10) == [0, 3, 10]
assert candidate([], 1, 2) == []
assert candidate([1.5, 2.5], 2, 2) == [2, 2]
try:
    candidate([1], 3, 2)
    assert False, 'expected ValueError'
except ValueError:
    pass
""", "from typing import List")

add("diagonal_sums", "(matrix: List[List[int]]) -> Tuple[int, int]", """
For a square matrix, return (sum of the main diagonal, sum of the anti-diagonal).
>>> diagonal_sums([[1, 2], [3, 4]])
(5, 5)
>>> diagonal_sums([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
(15, 15)
""", """
n = len(matrix)
return (sum(matrix[i][i] for i in range(n)), sum(matrix[i][n - 1 - i] for i in range(n)))
""", """
assert candidate([[1, 2], [3, 4]]) == (5, 5)
assert candidate([[1, 2, 3], [4, 5, 6], [7, 8, 9]]) == (15, 15)
assert candidate([[7]]) == (7, 7)
assert candidate([[1, 0, 0], [0, 2, 0], [5, 0, 3]]) == (6, 7)
assert candidate([]) == (0, 0)
""", "from typing import List, Tuple")

add("rotate_clockwise", "(grid: List[List[int]]) -> List[List[int]]", """
Rotate a rectangular grid by 90 degrees clockwise and return the new grid; the input is not changed.
>>> rotate_clockwise([[1, 2, 3], [4, 5, 6]])
[[4, 1], [5, 2], [6, 3]]
""", """
return [list(row) for row in zip(*grid[::-1])]
""", """
g = [[1, 2, 3], [4, 5, 6]]
assert candidate(g) == [[4, 1], [5, 2], [6, 3]]
assert g == [[1, 2, 3], [4, 5, 6]]
assert candidate([[1]]) == [[1]]
assert candidate([[1, 2], [3, 4]]) == [[3, 1], [4, 2]]
assert candidate([[1], [2], [3]]) == [[3, 2, 1]]
""", "from typing import List")

add("top_words", "(text: str, k: int) -> List[str]", """
Return the k most frequent words of text. Words are runs of letters, compared without case and
returned in lower case. Ties are broken alphabetically. Fewer than k distinct words: return them all.
>>> top_words('the cat and the hat and the bat', 2)
['the', 'and']
""", """
counts = {}
for w in re.findall('[A-Za-z]+', text):
    w = w.lower()
    counts[w] = counts.get(w, 0) + 1
return sorted(counts, key=lambda w: (-counts[w], w))[:k]
""", """
assert candidate('the cat and the hat and the bat', 2) == ['the', 'and']
assert candidate('', 3) == []
assert candidate('B a b A c', 5) == ['a', 'b', 'c']
assert candidate("it's it, IT!", 1) == ['it']
assert candidate('x y z', 2) == ['x', 'y']
""", "import re\nfrom typing import List")

add("parse_duration", "(text: str) -> int", """
Parse a duration such as '1h30m15s' into seconds. Units are h, m and s, each at most once and
in that order; any may be missing. An empty string or anything else raises ValueError.
>>> parse_duration('1h30m15s')
5415
>>> parse_duration('45s')
45
""", """
m = re.fullmatch(r'(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?', text)
if not text or m is None:
    raise ValueError(text)
h, mi, s = (int(g) if g else 0 for g in m.groups())
return h * 3600 + mi * 60 + s
""", """
assert candidate('1h30m15s') == 5415
assert candidate('45s') == 45
assert candidate('2h') == 7200
assert candidate('10m5s') == 605
for bad in ['', '5x', '1s2m', 'h', '3 m']:
    try:
        candidate(bad)
        assert False, bad
    except ValueError:
        pass
""", "import re")

add("human_size", "(n: int) -> str", """
Format a byte count with binary units B, KiB, MiB, GiB, TiB: below 1024 as an integer with ' B';
otherwise divide by 1024 until the value is below 1024 (or the unit is TiB) and show one decimal.
>>> human_size(512)
'512 B'
>>> human_size(1536)
'1.5 KiB'
""", """
if n < 1024:
    return f'{n} B'
value = float(n)
for unit in ['KiB', 'MiB', 'GiB', 'TiB']:
    value /= 1024
    if value < 1024 or unit == 'TiB':
        return f'{value:.1f} {unit}'
""", """
assert candidate(0) == '0 B'
assert candidate(512) == '512 B'
assert candidate(1023) == '1023 B'
assert candidate(1024) == '1.0 KiB'
assert candidate(1536) == '1.5 KiB'
assert candidate(5 * 1024 ** 2) == '5.0 MiB'
assert candidate(3 * 1024 ** 5) == '3072.0 TiB'
""")

add("snake_to_camel", "(name: str) -> str", """
Convert a snake_case identifier to lowerCamelCase. Repeated, leading or trailing underscores are
ignored.
>>> snake_to_camel('max_retry_count')
'maxRetryCount'
""", """
parts = [p for p in name.split('_') if p]
if not parts:
    return ''
return parts[0].lower() + ''.join(p[:1].upper() + p[1:].lower() for p in parts[1:])
""", """
assert candidate('max_retry_count') == 'maxRetryCount'
assert candidate('single') == 'single'
assert candidate('__private__name') == 'privateName'
assert candidate('HTTP_status') == 'httpStatus'
assert candidate('') == ''
""")

add("camel_to_kebab", "(name: str) -> str", """
Convert a camelCase or PascalCase identifier to kebab-case: a dash before every upper-case letter
that is not the first character, then everything in lower case.
>>> camel_to_kebab('backgroundColor')
'background-color'
""", """
out = []
for i, ch in enumerate(name):
    if ch.isupper() and i > 0:
        out.append('-')
    out.append(ch.lower())
return ''.join(out)
""", """
assert candidate('backgroundColor') == 'background-color'
assert candidate('PascalCase') == 'pascal-case'
assert candidate('x') == 'x'
assert candidate('getHTTP') == 'get-h-t-t-p'
assert candidate('') == ''
""")

add("count_islands", "(grid: List[str]) -> int", """
The grid is a list of equal-length strings of '#' (land) and '.' (water). Count the islands:
groups of land cells joined up, down, left or right (not diagonally).
>>> count_islands(['##..', '#..#', '...#'])
2
""", """
seen = set()
rows, cols = len(grid), len(grid[0]) if grid else 0
count = 0
for r in range(rows):
    for c in range(cols):
        if grid[r][c] == '#' and (r, c) not in seen:
            count += 1
            stack = [(r, c)]
            seen.add((r, c))
            while stack:
                y, x = stack.pop()
                for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < rows and 0 <= nx < cols and grid[ny][nx] == '#' and (ny, nx) not in seen:
                        seen.add((ny, nx))
                        stack.append((ny, nx))
return count
""", """
assert candidate(['##..', '#..#', '...#']) == 2
assert candidate([]) == 0
assert candidate(['....']) == 0
assert candidate(['#.#', '.#.', '#.#']) == 5
assert candidate(['###', '#.#', '###']) == 1
""", "from typing import List")

add("merge_intervals", "(intervals: List[Tuple[int, int]]) -> List[Tuple[int, int]]", """
Merge overlapping or touching closed intervals (start <= end) given in any order; return them
sorted by start.
>>> merge_intervals([(5, 8), (1, 3), (2, 4)])
[(1, 4), (5, 8)]
""", """
out = []
for s, e in sorted(intervals):
    if out and s <= out[-1][1]:
        out[-1] = (out[-1][0], max(out[-1][1], e))
    else:
        out.append((s, e))
return out
""", """
assert candidate([(5, 8), (1, 3), (2, 4)]) == [(1, 4), (5, 8)]
assert candidate([]) == []
assert candidate([(1, 2), (2, 3)]) == [(1, 3)]
assert candidate([(1, 10), (2, 3), (4, 5)]) == [(1, 10)]
assert candidate([(3, 3), (1, 1)]) == [(1, 1), (3, 3)]
""", "from typing import List, Tuple")

add("longest_rising_run", "(nums: List[int]) -> int", """
Return the length of the longest contiguous stretch of nums in which every element is strictly
greater than the one before it. An empty list gives 0.
>>> longest_rising_run([1, 2, 2, 3, 4, 5, 1])
4
""", """
best = cur = 0
for i, x in enumerate(nums):
    cur = cur + 1 if i and x > nums[i - 1] else 1
    best = max(best, cur)
return best
""", """
assert candidate([1, 2, 2, 3, 4, 5, 1]) == 4
assert candidate([]) == 0
assert candidate([5, 4, 3]) == 1
assert candidate([1, 2, 3]) == 3
assert candidate([3, 3, 3, 3]) == 1
""", "from typing import List")

add("luhn_valid", "(number: str) -> bool", """
Check a card number with the Luhn checksum. Spaces are ignored; any other non-digit character,
or fewer than two digits, makes the number invalid.
>>> luhn_valid('4539 3195 0343 6467')
True
>>> luhn_valid('8273 1232 7352 0569')
False
""", """
digits = number.replace(' ', '')
if len(digits) < 2 or not digits.isdigit():
    return False
total = 0
for i, ch in enumerate(reversed(digits)):
    d = int(ch)
    if i % 2 == 1:
        d *= 2
        if d > 9:
            d -= 9
    total += d
return total % 10 == 0
""", """
assert candidate('4539 3195 0343 6467') is True
assert candidate('8273 1232 7352 0569') is False
assert candidate('0') is False
assert candidate('00') is True
assert candidate('059a') is False
assert candidate('79927398713') is True
""")

add("spiral_order", "(matrix: List[List[int]]) -> List[int]", """
Return the elements of a rectangular matrix in clockwise spiral order, starting at the top-left.
>>> spiral_order([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
[1, 2, 3, 6, 9, 8, 7, 4, 5]
""", """
out = []
m = [row[:] for row in matrix]
while m:
    out.extend(m.pop(0))
    m = [list(r) for r in zip(*m)][::-1]
return out
""", """
assert candidate([[1, 2, 3], [4, 5, 6], [7, 8, 9]]) == [1, 2, 3, 6, 9, 8, 7, 4, 5]
assert candidate([]) == []
assert candidate([[1, 2, 3, 4]]) == [1, 2, 3, 4]
assert candidate([[1], [2], [3]]) == [1, 2, 3]
assert candidate([[1, 2], [3, 4], [5, 6]]) == [1, 2, 4, 6, 5, 3]
""", "from typing import List")

add("dedupe_keep_last", "(items: List[str]) -> List[str]", """
Remove duplicates, keeping the last occurrence of each item, and keep the order of those last
occurrences.
>>> dedupe_keep_last(['a', 'b', 'a', 'c', 'b'])
['a', 'c', 'b']
""", """
last = {x: i for i, x in enumerate(items)}
return [x for i, x in enumerate(items) if last[x] == i]
""", """
assert candidate(['a', 'b', 'a', 'c', 'b']) == ['a', 'c', 'b']
assert candidate([]) == []
assert candidate(['x', 'x', 'x']) == ['x']
assert candidate(['q', 'r']) == ['q', 'r']
""", "from typing import List")

add("mask_email", "(email: str) -> str", """
Hide the local part of an e-mail address: keep its first and last character and replace those in
between by '*'. A local part of one or two characters is kept as it is. The domain is unchanged.
>>> mask_email('john.doe@example.com')
'j******e@example.com'
""", """
local, domain = email.rsplit('@', 1)
if len(local) <= 2:
    return email
return local[0] + '*' * (len(local) - 2) + local[-1] + '@' + domain
""", """
assert candidate('john.doe@example.com') == 'j******e@example.com'
assert candidate('ab@x.org') == 'ab@x.org'
assert candidate('abc@x.org') == 'a*c@x.org'
assert candidate('a@b') == 'a@b'
""")

add("is_isogram", "(phrase: str) -> bool", """
A phrase is an isogram when no letter occurs in it more than once, ignoring case; spaces and
hyphens may repeat.
>>> is_isogram('six-year-old')
True
>>> is_isogram('Alphabet')
False
""", """
letters = [c.lower() for c in phrase if c.isalpha()]
return len(letters) == len(set(letters))
""", """
assert candidate('six-year-old') is True
assert candidate('Alphabet') is False
assert candidate('') is True
assert candidate('lumberjacks') is True
assert candidate('Emily Jung Schwartzkopf') is True
assert candidate('aA') is False
""")

add("ipv4_to_int", "(address: str) -> int", """
Convert a dotted IPv4 address to its 32-bit integer value. Return -1 when the text is not four
decimal numbers from 0 to 255 separated by dots.
>>> ipv4_to_int('192.168.0.1')
3232235521
""", """
parts = address.split('.')
if len(parts) != 4 or not all(p.isdigit() and int(p) <= 255 for p in parts):
    return -1
value = 0
for p in parts:
    value = value * 256 + int(p)
return value
""", """
assert candidate('192.168.0.1') == 3232235521
assert candidate('0.0.0.0') == 0
assert candidate('255.255.255.255') == 4294967295
assert candidate('256.1.1.1') == -1
assert candidate('1.2.3') == -1
assert candidate('1.2.3.x') == -1
assert candidate('') == -1
""")

add("chunked", "(items: List[int], size: int) -> List[List[int]]", """
Split items into consecutive chunks of the given size; the last chunk may be shorter. A size below
1 raises ValueError.
>>> chunked([1, 2, 3, 4, 5], 2)
[[1, 2], [3, 4], [5]]
""", """
if size < 1:
    raise ValueError('size must be >= 1')
return [items[i:i + size] for i in range(0, len(items), size)]
""", """
assert candidate([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
assert candidate([], 3) == []
assert candidate([1, 2], 5) == [[1, 2]]
try:
    candidate([1], 0)
    assert False
except ValueError:
    pass
""", "from typing import List")

add("flatten_keys", "(data: dict, sep: str = '.') -> dict", """
Flatten nested dictionaries: a value inside a nested dictionary gets the key path joined by sep.
Empty nested dictionaries disappear; other values are kept as they are.
>>> flatten_keys({'a': {'b': 1, 'c': {'d': 2}}, 'e': 3})
{'a.b': 1, 'a.c.d': 2, 'e': 3}
""", """
out = {}
def walk(prefix, d):
    for k, v in d.items():
        key = f'{prefix}{sep}{k}' if prefix else str(k)
        if isinstance(v, dict):
            walk(key, v)
        else:
            out[key] = v
walk('', data)
return out
""", """
assert candidate({'a': {'b': 1, 'c': {'d': 2}}, 'e': 3}) == {'a.b': 1, 'a.c.d': 2, 'e': 3}
assert candidate({}) == {}
assert candidate({'x': {}}) == {}
assert candidate({'a': {'b': [1, 2]}}, '/') == {'a/b': [1, 2]}
""")

add("moving_average", "(values: List[float], window: int) -> List[float]", """
Return the mean of every window of `window` consecutive values, rounded to 2 decimals. A window
longer than the list gives an empty list.
>>> moving_average([1, 2, 3, 4], 2)
[1.5, 2.5, 3.5]
""", """
return [round(sum(values[i:i + window]) / window, 2) for i in range(len(values) - window + 1)]
""", """
assert candidate([1, 2, 3, 4], 2) == [1.5, 2.5, 3.5]
assert candidate([1, 2], 3) == []
assert candidate([5], 1) == [5.0]
assert candidate([1, 2, 2], 3) == [1.67]
""", "from typing import List")

add("stair_ways", "(n: int, steps: List[int]) -> int", """
Count the ordered ways to climb exactly n stairs when each move climbs one of the given step sizes.
There is one way to climb 0 stairs.
>>> stair_ways(4, [1, 2])
5
""", """
ways = [1] + [0] * n
for i in range(1, n + 1):
    ways[i] = sum(ways[i - s] for s in steps if 0 < s <= i)
return ways[n]
""", """
assert candidate(4, [1, 2]) == 5
assert candidate(0, [3]) == 1
assert candidate(5, [2]) == 0
assert candidate(6, [1, 3, 5]) == 8
assert candidate(10, [1, 2]) == 89
""", "from typing import List")

add("fewest_coins", "(coins: List[int], amount: int) -> int", """
Return the smallest number of coins that add up to amount, with unlimited coins of each given
value, or -1 if no combination does.
>>> fewest_coins([1, 5, 11], 15)
3
""", """
INF = float('inf')
best = [0] + [INF] * amount
for a in range(1, amount + 1):
    for c in coins:
        if c <= a and best[a - c] + 1 < best[a]:
            best[a] = best[a - c] + 1
return -1 if best[amount] == INF else best[amount]
""", """
assert candidate([1, 5, 11], 15) == 3
assert candidate([2], 3) == -1
assert candidate([7], 0) == 0
assert candidate([1, 3, 4], 6) == 2
assert candidate([5, 10], 35) == 4
""", "from typing import List")

add("edit_distance", "(a: str, b: str) -> int", """
Return the smallest number of single-character insertions, deletions and substitutions that turn
a into b.
>>> edit_distance('kitten', 'sitting')
3
""", """
prev = list(range(len(b) + 1))
for i, ca in enumerate(a, 1):
    cur = [i]
    for j, cb in enumerate(b, 1):
        cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
    prev = cur
return prev[-1]
""", """
assert candidate('kitten', 'sitting') == 3
assert candidate('', 'abc') == 3
assert candidate('same', 'same') == 0
assert candidate('flaw', 'lawn') == 2
assert candidate('abc', '') == 3
""")

add("build_order", "(deps: Dict[str, List[str]]) -> Optional[List[str]]", """
deps maps each task to the tasks it needs first (every task appears as a key). Return an order in
which every task comes after its needs, choosing the alphabetically smallest ready task at each
step; return None if the needs form a cycle.
>>> build_order({'b': ['a'], 'a': [], 'c': ['a']})
['a', 'b', 'c']
""", """
need = {t: set(d) for t, d in deps.items()}
order = []
while need:
    ready = sorted(t for t, d in need.items() if not d)
    if not ready:
        return None
    t = ready[0]
    order.append(t)
    del need[t]
    for d in need.values():
        d.discard(t)
return order
""", """
assert candidate({'b': ['a'], 'a': [], 'c': ['a']}) == ['a', 'b', 'c']
assert candidate({}) == []
assert candidate({'x': ['y'], 'y': ['x']}) is None
assert candidate({'d': [], 'c': ['d'], 'a': ['c']}) == ['d', 'c', 'a']
assert candidate({'b': [], 'a': ['b'], 'c': []}) == ['b', 'a', 'c']
""", "from typing import Dict, List, Optional")

add("tokenize_arith", "(expr: str) -> List[str]", """
Split an arithmetic expression into tokens: whole non-negative integers, the operators + - * /
and parentheses. Spaces separate nothing and are dropped; any other character raises ValueError.
>>> tokenize_arith('12+ 4*(30-1)')
['12', '+', '4', '*', '(', '30', '-', '1', ')']
""", """
tokens = []
num = ''
for ch in expr:
    if ch.isdigit():
        num += ch
        continue
    if num:
        tokens.append(num)
        num = ''
    if ch in '+-*/()':
        tokens.append(ch)
    elif ch != ' ':
        raise ValueError(ch)
if num:
    tokens.append(num)
return tokens
""", """
assert candidate('12+ 4*(30-1)') == ['12', '+', '4', '*', '(', '30', '-', '1', ')']
assert candidate('') == []
assert candidate('  7 ') == ['7']
assert candidate('1 2') == ['1', '2']
try:
    candidate('2^3')
    assert False
except ValueError:
    pass
""", "from typing import List")

add("eval_postfix", "(tokens: List[str]) -> int", """
Evaluate an expression in reverse Polish notation. Tokens are integers or one of + - * /;
division truncates toward zero.
>>> eval_postfix(['4', '13', '5', '/', '+'])
6
""", """
stack = []
for t in tokens:
    if t in ('+', '-', '*', '/'):
        b, a = stack.pop(), stack.pop()
        if t == '+':
            stack.append(a + b)
        elif t == '-':
            stack.append(a - b)
        elif t == '*':
            stack.append(a * b)
        else:
            stack.append(int(a / b))
    else:
        stack.append(int(t))
return stack[-1]
""", """
assert candidate(['4', '13', '5', '/', '+']) == 6
assert candidate(['2', '1', '+', '3', '*']) == 9
assert candidate(['-7', '2', '/']) == -3
assert candidate(['5']) == 5
assert candidate(['3', '4', '-']) == -1
""", "from typing import List")

add("add_minutes", "(clock: str, minutes: int) -> str", """
clock is a 24-hour time 'HH:MM'. Return the time after adding minutes (which may be negative or
span several days), in the same format.
>>> add_minutes('23:45', 30)
'00:15'
""", """
h, m = map(int, clock.split(':'))
total = (h * 60 + m + minutes) % (24 * 60)
return f'{total // 60:02d}:{total % 60:02d}'
""", """
assert candidate('23:45', 30) == '00:15'
assert candidate('00:00', -1) == '23:59'
assert candidate('12:00', 0) == '12:00'
assert candidate('08:30', 24 * 60 * 3 + 5) == '08:35'
""")

add("day_of_year", "(date: str) -> int", """
date is 'YYYY-MM-DD' in the Gregorian calendar. Return its day number within the year (1 January
is day 1), counting 29 February in leap years.
>>> day_of_year('2024-03-01')
61
""", """
y, m, d = map(int, date.split('-'))
days = [31, 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
return sum(days[:m - 1]) + d
""", """
assert candidate('2024-03-01') == 61
assert candidate('2023-03-01') == 60
assert candidate('1900-12-31') == 365
assert candidate('2000-12-31') == 366
assert candidate('2021-01-01') == 1
""")

add("competition_ranks", "(scores: List[int]) -> List[int]", """
Rank scores from highest to lowest as in sports ('1224' ranking): equal scores share a rank and the
next rank skips as many places as were shared. Return the rank of each score in input order.
>>> competition_ranks([90, 100, 90, 80])
[2, 1, 2, 4]
""", """
ordered = sorted(scores, reverse=True)
first = {}
for i, s in enumerate(ordered):
    first.setdefault(s, i + 1)
return [first[s] for s in scores]
""", """
assert candidate([90, 100, 90, 80]) == [2, 1, 2, 4]
assert candidate([]) == []
assert candidate([5, 5, 5]) == [1, 1, 1]
assert candidate([1, 2, 3]) == [3, 2, 1]
assert candidate([7, 9, 9, 9, 3]) == [4, 1, 1, 1, 5]
""", "from typing import List")

add("group_anagrams", "(words: List[str]) -> List[List[str]]", """
Group words that are anagrams of each other (same letters, same counts, case-sensitive). Sort each
group alphabetically, then sort the groups by their first word.
>>> group_anagrams(['tea', 'eat', 'tan', 'ate', 'nat', 'bat'])
[['ate', 'eat', 'tea'], ['bat'], ['nat', 'tan']]
""", """
groups = {}
for w in words:
    groups.setdefault(''.join(sorted(w)), []).append(w)
return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
""", """
assert candidate(['tea', 'eat', 'tan', 'ate', 'nat', 'bat']) == [['ate', 'eat', 'tea'], ['bat'], ['nat', 'tan']]
assert candidate([]) == []
assert candidate(['ab', 'Ba']) == [['Ba'], ['ab']]
assert candidate(['x', 'x']) == [['x', 'x']]
""", "from typing import List")

add("gaps_in_range", "(nums: List[int], low: int, high: int) -> List[Tuple[int, int]]", """
nums is sorted, distinct and inside [low, high]. Return the missing stretches of [low, high] as
(first, last) pairs in order.
>>> gaps_in_range([0, 1, 3, 50, 75], 0, 99)
[(2, 2), (4, 49), (51, 74), (76, 99)]
""", """
out = []
prev = low - 1
for x in nums + [high + 1]:
    if x - prev > 1:
        out.append((prev + 1, x - 1))
    prev = x
return out
""", """
assert candidate([0, 1, 3, 50, 75], 0, 99) == [(2, 2), (4, 49), (51, 74), (76, 99)]
assert candidate([], 1, 1) == [(1, 1)]
assert candidate([1, 2, 3], 1, 3) == []
assert candidate([5], 1, 9) == [(1, 4), (6, 9)]
""", "from typing import List, Tuple")

add("majority_value", "(items: List[int]) -> Optional[int]", """
Return the value that occurs in more than half of the positions of items, or None if there is none.
>>> majority_value([3, 1, 3, 3, 2])
3
""", """
counts = {}
for x in items:
    counts[x] = counts.get(x, 0) + 1
for x, c in counts.items():
    if c * 2 > len(items):
        return x
return None
""", """
assert candidate([3, 1, 3, 3, 2]) == 3
assert candidate([]) is None
assert candidate([1, 2]) is None
assert candidate([1, 1, 2, 2]) is None
assert candidate([0]) == 0
""", "from typing import List, Optional")

add("sparse_dot", "(a: Dict[int, float], b: Dict[int, float]) -> float", """
Two sparse vectors map an index to its non-zero value. Return their dot product.
>>> sparse_dot({0: 1.0, 3: 2.0}, {3: 4.0, 7: 1.0})
8.0
""", """
if len(a) > len(b):
    a, b = b, a
return float(sum(v * b[i] for i, v in a.items() if i in b))
""", """
assert candidate({0: 1.0, 3: 2.0}, {3: 4.0, 7: 1.0}) == 8.0
assert candidate({}, {1: 2.0}) == 0.0
assert candidate({1: 2.0, 2: 3.0}, {1: 0.5, 2: 2.0, 9: 9.0}) == 7.0
""", "from typing import Dict")

add("simplify_path", "(path: str) -> str", """
Simplify an absolute Unix path: collapse repeated slashes, drop '.' parts, let '..' remove the
part before it (never going above the root), and drop a trailing slash except for the root itself.
>>> simplify_path('/a/./b/../../c/')
'/c'
""", """
parts = []
for p in path.split('/'):
    if p in ('', '.'):
        continue
    if p == '..':
        if parts:
            parts.pop()
    else:
        parts.append(p)
return '/' + '/'.join(parts)
""", """
assert candidate('/a/./b/../../c/') == '/c'
assert candidate('/') == '/'
assert candidate('/../') == '/'
assert candidate('/home//user/') == '/home/user'
assert candidate('/a/b/c/../..') == '/a'
assert candidate('/...') == '/...'
""")

add("wrap_words", "(text: str, width: int) -> List[str]", """
Wrap text into lines of at most width characters, filling each line greedily with whole words
separated by single spaces. A word longer than width gets a line of its own.
>>> wrap_words('the quick brown fox jumps', 10)
['the quick', 'brown fox', 'jumps']
""", """
lines = []
line = ''
for word in text.split():
    if not line:
        line = word
    elif len(line) + 1 + len(word) <= width:
        line += ' ' + word
    else:
        lines.append(line)
        line = word
if line:
    lines.append(line)
return lines
""", """
assert candidate('the quick brown fox jumps', 10) == ['the quick', 'brown fox', 'jumps']
assert candidate('', 5) == []
assert candidate('extraordinary a', 4) == ['extraordinary', 'a']
assert candidate('a b c d', 3) == ['a b', 'c d']
""", "from typing import List")

add("products_except_self", "(nums: List[int]) -> List[int]", """
Return a list whose i-th element is the product of every element of nums except nums[i], without
using division.
>>> products_except_self([1, 2, 3, 4])
[24, 12, 8, 6]
""", """
n = len(nums)
out = [1] * n
left = 1
for i in range(n):
    out[i] = left
    left *= nums[i]
right = 1
for i in range(n - 1, -1, -1):
    out[i] *= right
    right *= nums[i]
return out
""", """
assert candidate([1, 2, 3, 4]) == [24, 12, 8, 6]
assert candidate([0, 2, 3]) == [6, 0, 0]
assert candidate([5]) == [1]
assert candidate([-1, 2, 0, 4]) == [0, 0, -8, 0]
assert candidate([]) == []
""", "from typing import List")

add("gray_code", "(bits: int) -> List[int]", """
Return the reflected binary Gray code sequence for the given number of bits: 2**bits integers
starting at 0, each differing from the previous one in exactly one bit.
>>> gray_code(2)
[0, 1, 3, 2]
""", """
return [i ^ (i >> 1) for i in range(1 << bits)]
""", """
assert candidate(2) == [0, 1, 3, 2]
assert candidate(0) == [0]
assert candidate(1) == [0, 1]
assert candidate(3) == [0, 1, 3, 2, 6, 7, 5, 4]
""", "from typing import List")

add("align_columns", "(rows: List[List[str]]) -> List[str]", """
Render rows of cells as text lines: each column is left-aligned and padded with spaces to its
widest cell, columns are separated by ' | ', and trailing spaces are removed from every line.
>>> align_columns([['id', 'name'], ['7', 'Ada']])
['id | name', '7  | Ada']
""", """
if not rows:
    return []
widths = [max(len(r[c]) for r in rows if c < len(r)) for c in range(max(len(r) for r in rows))]
return [' | '.join(cell.ljust(widths[c]) for c, cell in enumerate(r)).rstrip() for r in rows]
""", """
assert candidate([['id', 'name'], ['7', 'Ada']]) == ['id | name', '7  | Ada']
assert candidate([]) == []
assert candidate([['a']]) == ['a']
assert candidate([['x', 'yy'], ['zzz', 'w']]) == ['x   | yy', 'zzz | w']
""", "from typing import List")

add("next_palindromic_number", "(n: int) -> int", """
Return the smallest integer strictly greater than n (n >= 0) whose decimal digits read the same
backwards.
>>> next_palindromic_number(123)
131
>>> next_palindromic_number(99)
101
""", """
n += 1
while str(n) != str(n)[::-1]:
    n += 1
return n
""", """
assert candidate(123) == 131
assert candidate(99) == 101
assert candidate(0) == 1
assert candidate(9) == 11
assert candidate(808) == 818
assert candidate(1991) == 2002
""")

for i, p in enumerate(P):
    p["task_id"] = f"WizevolDev/{i}"
keys = ("task_id", "prompt", "entry_point", "canonical_solution", "test")
with open(sys.argv[1], "w") as f:
    for p in P:
        f.write(json.dumps({k: p[k] for k in keys}) + "\n")
print(f"wrote {len(P)} problems to {sys.argv[1]}")
