"""Images in S3-compatible object storage: a real S3 protocol server (moto's), not a mock of the client."""

from __future__ import annotations

import boto3
import pytest
from django.core.files.storage import storages
from django.urls import reverse
from moto.server import ThreadedMotoServer

from tests.conftest import free_port
from tests.factories import finish, make_generation

pytestmark = pytest.mark.django_db

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS).create_bucket(Bucket="playground-images")
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    settings.STORAGES = settings.STORAGES | {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "playground-images",
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "testing",
                "secret_key": "testing",
                "file_overwrite": True,
                "default_acl": None,
            },
        }
    }
    return boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)


def test_images_and_thumbnails_land_in_the_bucket_and_are_served_with_long_cache_headers(
    client, s3_storage, demo_mode
):
    generation = make_generation()
    finish(generation)
    assert client.get(reverse("generations:thumbnail", args=[generation.public_id])).status_code == 200
    generation.refresh_from_db()

    keys = {item["Key"] for item in s3_storage.list_objects_v2(Bucket="playground-images")["Contents"]}
    assert {generation.image.name, generation.thumbnail.name} <= keys
    assert type(storages["default"]).__name__ == "S3Storage"

    response = client.get(reverse("generations:image", args=[generation.public_id]))
    stored = s3_storage.get_object(Bucket="playground-images", Key=generation.image.name)["Body"].read()
    assert response.content == stored
    assert "immutable" in response["Cache-Control"]
    assert client.get(reverse("generations:download", args=[generation.public_id])).status_code == 200


def test_readiness_checks_the_bucket(client, s3_storage):
    assert client.get("/readyz").json() == {"database": "ok", "storage": "ok", "queue": "ok"}
