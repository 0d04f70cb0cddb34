from django.db import migrations

# Jobs queued by the previous release name their generation by its id; the task now takes its public id. A job
# whose generation is gone gets an empty one, which the task finds no longer queued.
FORWARDS = """
UPDATE procrastinate_jobs
SET args = (args - 'generation_id') || jsonb_build_object('public_id', COALESCE(
    (SELECT public_id FROM generations_generation WHERE id = (args ->> 'generation_id')::bigint), ''
))
WHERE task_name = 'generations.run' AND status = 'todo' AND args ? 'generation_id'
"""


class Migration(migrations.Migration):
    dependencies = [
        ("generations", "0011_provider_rate_limited"),
        ("procrastinate", "0041_post_retry_failed_job"),
    ]

    operations = [migrations.RunSQL(FORWARDS, migrations.RunSQL.noop)]
