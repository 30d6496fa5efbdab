"""``/api/v1/brands``: what the world may know about a brand (public, cacheable)."""

from flask import abort, jsonify, request

from sayso import services
from sayso.api import bp
from sayso.schemas.api import BrandDirectorySchema, BrandLookupSchema

#: How long a browser (the extension) may keep the directory without asking again.
DIRECTORY_MAX_AGE = 3600


@bp.get("/brands/lookup")
def lookup_brand():
    """The brand behind a registrable domain, whether the domain is verified, and the fields
    it asks for with their declared purposes.
    ---
    get:
      tags: [brands]
      description: >-
        For the browser extension: public and cacheable, so asking reveals nothing about
        who asks. A domain an operator has not verified is returned with `verified: false`.
      security: []
      parameters:
        - {name: domain, in: query, required: true, schema: {type: string, maxLength: 253},
           description: A registrable domain such as bookshop.example.}
      responses:
        200:
          description: The brand.
          content: {application/json: {schema: BrandLookup}}
        400: BadRequest
        404: NotFound
    """
    domain = request.args.get("domain", "").strip().lower()
    if not domain or len(domain) > 253:
        abort(400, "Send ?domain=<registrable domain>.")
    brands = services.brands()
    row = brands.by_domain(domain)
    if row is None:
        abort(404, "No Sayso brand claims this domain.")
    brand = row.brand
    fields = [
        {"field": field, "purpose": purpose}
        for field, purpose in sorted(brands.declared_purposes(brand).items())
    ]
    response = jsonify(
        BrandLookupSchema().dump(
            {
                "brand_id": brand.public_id,
                "name": brand.name,
                "domain": row.domain,
                "verified": row.verified_at is not None,
                "fields": fields,
            }
        )
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/brands/directory")
def brand_directory():
    """Every domain a brand claims, with the brand's id.
    ---
    get:
      tags: [brands]
      description: >-
        For the browser extension: it keeps this list and matches the sites the consumer
        visits on the device, so browsing sends Sayso nothing. Public and cacheable
        (`Cache-Control: public`), with an `ETag`: send it back in `If-None-Match` and an
        unchanged list is answered 304 with no body. Domains are listed whether an operator
        verified them or not, as `GET /api/v1/brands/lookup` does.
      security: []
      parameters:
        - {name: If-None-Match, in: header, required: false, schema: {type: string},
           description: The ETag of the list the caller holds.}
      responses:
        200:
          description: The directory.
          headers:
            ETag: {description: The list's version., schema: {type: string}}
            Cache-Control: {description: "`public, max-age=3600`", schema: {type: string}}
          content: {application/json: {schema: BrandDirectory}}
        304:
          description: The caller's list (its `If-None-Match`) is current; no body.
          headers:
            ETag: {description: The list's version., schema: {type: string}}
    """
    domains = services.brands().domain_directory()
    response = jsonify(BrandDirectorySchema().dump({"domains": domains}))
    # A strong ETag over the JSON itself: the same directory always has the same tag.
    response.add_etag()
    response.headers["Cache-Control"] = f"public, max-age={DIRECTORY_MAX_AGE}"
    return response.make_conditional(request)
