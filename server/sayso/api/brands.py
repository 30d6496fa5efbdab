"""``/api/v1/brands``: what the world may know about a brand (public, cacheable)."""

from flask import current_app, jsonify, request

from sayso import services
from sayso.api.blueprint import bp
from sayso.errors import error_response
from sayso.schemas.api import BrandDirectorySchema, BrandLookupQuerySchema, BrandLookupSchema

#: How long a browser (the extension) may keep the directory without asking again.
DIRECTORY_MAX_AGE = 3600


def _readable_anywhere(response):
    """Let any origin read a public answer (CORS ``*``, never with credentials).

    The directory and the lookups are public data (brand names, the domains they claim,
    the purposes they declared), the same for everyone who asks. With ``*`` the browser
    extension reads them before the consumer has given it access to the Sayso address or
    signed in, so it can say which brand is behind a site from the first minute. No cookie
    is ever honoured cross-origin (``*`` forbids credentials), so nobody's data is exposed.
    """
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    return response


@bp.get("/brands/lookup")
def lookup_brand():
    """The brand behind a registrable domain, whether the domain is verified, and the fields
    it asks for with their declared purposes.
    ---
    get:
      tags: [brands]
      description: >-
        For the browser extension: public and cacheable, so asking reveals nothing about
        who asks, and readable from any origin (CORS `*`, never with credentials). A domain
        an operator has not verified is returned with `verified: false`.
      security: []
      parameters:
        - {in: query, schema: BrandLookupQuerySchema}
      responses:
        200:
          description: The brand.
          content: {application/json: {schema: BrandLookup}}
        400: BadRequest
        404: NotFound
    """
    # Errors too are readable from any origin: the extension must tell "no brand" (404)
    # from "Sayso unreachable", which is all a browser reports of an unreadable answer.
    invalid = BrandLookupQuerySchema().validate(request.args)
    if invalid:
        response, status = error_response(400, "Send ?domain=<registrable domain>.", None, invalid)
        return _readable_anywhere(response), status
    domain = request.args["domain"].strip().lower()
    brands = services.brands()
    row = brands.by_domain(domain)
    if row is None:
        response, status = error_response(404, "No Sayso brand claims this domain.")
        return _readable_anywhere(response), status
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
    return _readable_anywhere(response)


@bp.route("/brands/directory", methods=["OPTIONS"], provide_automatic_options=False)
def brand_directory_preflight():
    """CORS preflight: a cross-origin GET with ``If-None-Match`` asks first."""
    response = _readable_anywhere(current_app.response_class(status=204))
    response.headers["Access-Control-Allow-Methods"] = "GET"
    response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
    response.headers["Access-Control-Max-Age"] = str(DIRECTORY_MAX_AGE)
    return response


@bp.get("/brands/directory", provide_automatic_options=False)
def brand_directory():
    """Every domain a brand claims, with the brand's id.
    ---
    get:
      tags: [brands]
      description: >-
        For the browser extension: it keeps this list and matches the sites the consumer
        visits on the device, so browsing sends Sayso nothing. Public and cacheable
        (`Cache-Control: public`), with an `ETag`: send it back in `If-None-Match` and an
        unchanged list is answered 304 with no body. Readable from any origin (CORS `*`,
        `ETag` exposed, `If-None-Match` allowed; never with credentials), so the extension
        reads it before it has access to the Sayso address or a sign-in. Domains are listed
        whether an operator verified them or not, as `GET /api/v1/brands/lookup` does.
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
    return _readable_anywhere(response.make_conditional(request))
