"""``/api/v1/brands``: what the world may know about a brand (public, cacheable)."""

from flask import abort, jsonify, request

from sayso import services
from sayso.api import bp
from sayso.schemas.api import BrandLookupSchema


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
