from orgwarden.scim.tests.conftest import user_body


def test_create_and_get(scim):
    response = scim.post("/Users", user_body())
    assert response.status_code == 201, response.content
    uid = response.json()["id"]
    got = scim.get(f"/Users/{uid}")
    assert got.status_code == 200
    assert got.json()["userName"] == "ada@example.com"
    listed = scim.get("/Users", 'filter=userName eq "ADA@example.com"')
    assert listed.json()["totalResults"] == 1
