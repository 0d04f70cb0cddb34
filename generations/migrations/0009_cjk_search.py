"""Search that finds Chinese, Japanese and Korean words: see generations/search.py.

PostgreSQL 16 cannot change a generated column's expression, so the search vector and its index are made anew
(every row is read once). The character ranges below are generations.search.CJK_CHARACTERS, frozen here.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations, models

import generations.search

CJK_RUN = (
    r"[\u1100-\u11ff\u3005-\u3007\u3041-\u309f\u30a1-\u30fa\u30fc-\u30ff\u3130-\u318f\u31f0-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]+"
)

# The text with each CJK run taken out of the words, then, run after run, its overlapping pairs in order
# (a phrase is a chain of adjacent pairs) followed by its single characters (which also keep runs apart).
CREATE_FUNCTION = f"""
CREATE FUNCTION generation_search_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  SELECT regexp_replace(value, '{CJK_RUN}', ' ', 'g') || ' '
    || coalesce(string_agg(gram, ' ' ORDER BY run_number, kind, position), '')
  FROM regexp_matches(value, '{CJK_RUN}', 'g') WITH ORDINALITY AS runs(run, run_number)
  CROSS JOIN LATERAL (
    SELECT 1, position, substr(run[1], position, 2) FROM generate_series(1, char_length(run[1]) - 1) AS position
    UNION ALL
    SELECT 2, position, substr(run[1], position, 1) FROM generate_series(1, char_length(run[1])) AS position
  ) AS grams(kind, position, gram)
$$
"""


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0008_open_instance_owner"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="generation", name="generation_search_idx"),
        migrations.RemoveField(model_name="generation", name="search_vector"),
        migrations.RunSQL(CREATE_FUNCTION, "DROP FUNCTION generation_search_text(text)"),
        migrations.AddField(
            model_name="generation",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=django.contrib.postgres.search.SearchVector(
                    generations.search.SearchText("prompt"),
                    generations.search.SearchText("revised_prompt"),
                    config="english",
                ),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.AddIndex(
            model_name="generation",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["search_vector"], name="generation_search_idx"
            ),
        ),
    ]
