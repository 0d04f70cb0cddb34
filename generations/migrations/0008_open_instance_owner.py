from django.db import migrations


class Migration(migrations.Migration):
    """Reserved for the hardening work (who made a generation on an open instance); filled in there."""

    dependencies = [
        ("generations", "0007_job_engine"),
    ]

    operations = []
