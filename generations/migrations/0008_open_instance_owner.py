from django.db import migrations, models


class Migration(migrations.Migration):
    """Who made a generation on an open instance: a random id kept in that browser session."""

    dependencies = [
        ("generations", "0007_job_engine"),
    ]

    operations = [
        migrations.AddField(
            model_name="generation",
            name="maker_session",
            field=models.CharField(
                blank=True,
                help_text="A random id kept in the browser session that made it: on an open instance, who may delete it.",
                max_length=32,
            ),
        ),
    ]
