package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/auth"
	cc "github.com/vigil-iomt/vigil/internal/coldchainproc"
)

// ColdChain is the cold-chain service of docs/coldchain.md: *coldchainproc.Service implements it.
type ColdChain interface {
	Touch(a cc.Actor)

	Sites(ctx context.Context, tenant string) ([]cc.Site, error)
	Site(ctx context.Context, tenant, id string) (cc.Site, error)
	CreateSite(ctx context.Context, a cc.Actor, tenant string, v cc.Site) (cc.Site, error)

	Units(ctx context.Context, tenant, site string) ([]cc.UnitView, error)
	Unit(ctx context.Context, tenant, id string) (cc.UnitDetail, error)
	CreateUnit(ctx context.Context, a cc.Actor, tenant string, u cc.Unit) (cc.Unit, error)
	PatchUnit(ctx context.Context, a cc.Actor, tenant, id string, p cc.UnitPatch) (cc.Unit, error)

	Products(ctx context.Context, tenant string) ([]cc.Product, error)
	Product(ctx context.Context, tenant, id string) (cc.Product, error)
	CreateProduct(ctx context.Context, a cc.Actor, tenant string, p cc.Product) (cc.Product, error)

	Lots(ctx context.Context, tenant, location, status string) ([]cc.LotView, error)
	Lot(ctx context.Context, tenant, id string) (cc.LotView, error)
	CreateLot(ctx context.Context, a cc.Actor, tenant string, c cc.LotCreate) (cc.LotView, error)
	PatchLot(ctx context.Context, a cc.Actor, tenant, id string, p cc.LotPatch) (cc.LotView, error)
	MoveLot(ctx context.Context, a cc.Actor, tenant, id string, mv cc.Move) (cc.LotView, error)
	SplitLot(ctx context.Context, a cc.Actor, tenant, id string, sp cc.Split) (cc.LotView, error)
	LotWindow(ctx context.Context, tenant, id string, from, to time.Time) (time.Time, time.Time, error)
	LotSeries(ctx context.Context, tenant, id string, from, to time.Time) (cc.Series, error)
	LotMKT(ctx context.Context, tenant, id string, from, to time.Time) (cc.MKT, error)

	Shipments(ctx context.Context, tenant, state string) ([]cc.ShipmentView, error)
	Shipment(ctx context.Context, tenant, id string) (cc.ShipmentView, error)
	CreateShipment(ctx context.Context, a cc.Actor, tenant string, sh cc.Shipment) (cc.ShipmentView, error)
	TransitionShipment(ctx context.Context, a cc.Actor, tenant, id string, r cc.TransitionRequest) (cc.ShipmentView, error)
	Track(ctx context.Context, tenant, id string, from, to time.Time) ([]cc.Fix, error)

	Window(from, to time.Time, def time.Duration) (time.Time, time.Time, error)
	SourceSeries(ctx context.Context, tenant, kind, id string, from, to time.Time) (cc.Series, error)
	SourceMKT(ctx context.Context, tenant, kind, id string, from, to time.Time) (cc.MKT, error)

	MappingStudies(ctx context.Context, tenant, unit string) ([]cc.MappingStudy, error)
	MappingStudy(ctx context.Context, tenant, id string) (cc.MappingStudy, error)
	CreateMappingStudy(ctx context.Context, a cc.Actor, tenant string, m cc.MappingStudy) (cc.MappingStudy, error)

	AckExcursion(ctx context.Context, a cc.Actor, tenant, id string, r cc.AckRequest) (cc.Excursion, error)
	Excursion(ctx context.Context, tenant, id string) (cc.ExcursionDetail, error)

	Review(ctx context.Context, a cc.Actor, tenant, kind, id string) (cc.Review, error)
	Sign(ctx context.Context, a cc.Actor, tenant, kind, id string, req cc.SignRequest) (cc.SignResult, error)
	ReportPDF(ctx context.Context, a cc.Actor, tenant, kind, id string) ([]byte, error)
	ReportCSV(ctx context.Context, a cc.Actor, tenant, kind, id string, w io.Writer) error
	AuditCSV(ctx context.Context, a cc.Actor, tenant, kind, id string, w io.Writer) error
}

const ccBase = "/api/v1/tenants/{tenant}/coldchain"

// coldChainRoutes are the cold-chain routes (docs/coldchain.md).
func (a *API) coldChainRoutes() []Route {
	read, manage, qa := auth.PermColdChainRead, auth.PermColdChainManage, auth.PermQARelease
	rt := func(method, path string, perm auth.Permission, summary string, h func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error) Route {
		return Route{Pattern: method + " " + ccBase + path, Access: Tenant, Perm: perm, Summary: summary, handler: a.cold(h)}
	}
	var routes []Route
	routes = append(routes,
		rt("GET", "/sites", read, "List cold-chain sites", a.ccSites),
		rt("POST", "/sites", manage, "Create a site", a.ccCreateSite),
		rt("GET", "/sites/{site}", read, "Get a site", a.ccSite),

		rt("GET", "/units", read, "Storage overview: units with live status", a.ccUnits),
		rt("POST", "/units", manage, "Create a storage unit", a.ccCreateUnit),
		rt("GET", "/units/{unit}", read, "Storage unit with status, excursions, lots and mapping studies", a.ccUnit),
		rt("PATCH", "/units/{unit}", manage, "Change a unit's limits, sensors or name (reason required)", a.ccPatchUnit),
		rt("GET", "/units/{unit}/readings", read, "Temperature series of a unit with limits, excursions and MKT", a.ccSourceSeries(cc.AtUnit, "unit")),
		rt("GET", "/units/{unit}/mkt", read, "Mean kinetic temperature of a unit over a window", a.ccSourceMKT(cc.AtUnit, "unit")),

		rt("GET", "/products", read, "List products", a.ccProducts),
		rt("POST", "/products", manage, "Create a product with limits and stability budget", a.ccCreateProduct),
		rt("GET", "/products/{product}", read, "Get a product", a.ccProduct),

		rt("GET", "/lots", read, "List lots with budget use", a.ccLots),
		rt("POST", "/lots", manage, "Create a lot in a unit or shipment", a.ccCreateLot),
		rt("GET", "/lots/{lot}", read, "Lot with location history and budget use", a.ccLot),
		rt("PATCH", "/lots/{lot}", manage, "Change a lot (reason required; invalidates signatures)", a.ccPatchLot),
		rt("POST", "/lots/{lot}/move", manage, "Move a lot to another unit or shipment", a.ccMoveLot),
		rt("POST", "/lots/{lot}/split", manage, "Split a lot; the new part carries the budget used so far", a.ccSplitLot),
		rt("GET", "/lots/{lot}/readings", read, "Temperature series of a lot across its custody", a.ccLotSeries),
		rt("GET", "/lots/{lot}/mkt", read, "Mean kinetic temperature of a lot over a window", a.ccLotMKT),
		rt("GET", "/lots/{lot}/review", read, "QA review of a lot: report, content hash, signatures", a.ccReview(cc.ReviewLot, "lot")),
		rt("POST", "/lots/{lot}/sign", qa, "Release or reject a lot with an electronic signature", a.ccSign(cc.ReviewLot, "lot")),
		rt("GET", "/lots/{lot}/report.pdf", read, "Lot release report (PDF)", a.ccPDF(cc.ReviewLot, "lot")),
		rt("GET", "/lots/{lot}/report.csv", read, "Raw readings of a lot (CSV)", a.ccCSV(cc.ReviewLot, "lot")),
		rt("GET", "/lots/{lot}/audit.csv", auth.PermAuditRead, "Audit trail of a lot (CSV)", a.ccAuditCSV(cc.ReviewLot, "lot")),

		rt("GET", "/shipments", read, "List shipments", a.ccShipments),
		rt("POST", "/shipments", manage, "Create a shipment", a.ccCreateShipment),
		rt("GET", "/shipments/{shipment}", read, "Shipment with legs, transitions, status and excursions", a.ccShipment),
		rt("POST", "/shipments/{shipment}/transition", manage, "Pack, dispatch, receive or cancel a shipment", a.ccTransition),
		rt("GET", "/shipments/{shipment}/track", read, "GPS track of a shipment", a.ccTrack),
		rt("GET", "/shipments/{shipment}/readings", read, "Temperature series of a shipment", a.ccSourceSeries(cc.AtShipment, "shipment")),
		rt("GET", "/shipments/{shipment}/mkt", read, "Mean kinetic temperature of a shipment over a window", a.ccSourceMKT(cc.AtShipment, "shipment")),
		rt("GET", "/shipments/{shipment}/review", read, "QA review of a shipment", a.ccReview(cc.ReviewShipment, "shipment")),
		rt("POST", "/shipments/{shipment}/sign", qa, "Release or reject a shipment with an electronic signature", a.ccSign(cc.ReviewShipment, "shipment")),
		rt("GET", "/shipments/{shipment}/report.pdf", read, "Shipment release report (PDF)", a.ccPDF(cc.ReviewShipment, "shipment")),
		rt("GET", "/shipments/{shipment}/report.csv", read, "Raw readings of a shipment (CSV)", a.ccCSV(cc.ReviewShipment, "shipment")),
		rt("GET", "/shipments/{shipment}/audit.csv", auth.PermAuditRead, "Audit trail of a shipment (CSV)", a.ccAuditCSV(cc.ReviewShipment, "shipment")),

		rt("GET", "/mapping-studies", read, "List temperature-mapping studies", a.ccStudies),
		rt("POST", "/mapping-studies", manage, "Create a temperature-mapping study", a.ccCreateStudy),
		rt("GET", "/mapping-studies/{study}", read, "Mapping study with statistics", a.ccStudy),

		rt("GET", "/excursions/{excursion}", read, "Excursion with its USP <1079.2> MKT evaluation", a.ccExcursion),
		rt("POST", "/excursions/{excursion}/ack", manage, "Acknowledge an excursion", a.ccAck),
	)
	return routes
}

// cold adapts a cold-chain handler: 503 without the service, the session noted for §11.200,
// and the service's errors turned into API errors.
func (a *API) cold(h func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error) func(http.ResponseWriter, *http.Request, auth.Principal) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
		svc := a.cfg.ColdChain
		if svc == nil {
			return errorf(http.StatusServiceUnavailable, "cold chain is not enabled")
		}
		err := h(w, r, p, svc)
		if err == nil {
			return nil
		}
		if e, ok := cc.AsError(err); ok {
			status := map[cc.ErrorKind]int{cc.KindInvalid: 400, cc.KindUnauthorized: 401, cc.KindForbidden: 403,
				cc.KindNotFound: 404, cc.KindConflict: 409}[e.Kind]
			if status == 0 {
				status = 500
			}
			detail := map[string]any{"code": e.Code}
			for k, v := range e.Detail {
				detail[k] = v
			}
			return &Error{Status: status, Message: e.Message, Detail: detail, Err: err}
		}
		return err
	}
}

func actor(p auth.Principal) cc.Actor {
	return cc.Actor{UserID: p.UserID, Username: p.Username, Tenant: p.Tenant, TokenHash: p.TokenHash}
}

// window parses ?from=&to= (RFC 3339).
func window(r *http.Request) (from, to time.Time, err error) {
	parse := func(name string) (time.Time, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, invalid(name + ": " + v + " is not an RFC 3339 time")
		}
		return t, nil
	}
	if from, err = parse("from"); err != nil {
		return
	}
	to, err = parse("to")
	return
}

func (a *API) ccSites(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	v, err := svc.Sites(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"sites": nonNil(v)})
	return nil
}

func (a *API) ccSite(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	v, err := svc.Site(r.Context(), r.PathValue("tenant"), r.PathValue("site"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccCreateSite(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.Site
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.CreateSite(r.Context(), actor(p), r.PathValue("tenant"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

func (a *API) ccUnits(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	svc.Touch(actor(p))
	v, err := svc.Units(r.Context(), r.PathValue("tenant"), r.URL.Query().Get("site"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"units": nonNil(v)})
	return nil
}

func (a *API) ccUnit(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	svc.Touch(actor(p))
	v, err := svc.Unit(r.Context(), r.PathValue("tenant"), r.PathValue("unit"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccCreateUnit(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.Unit
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.CreateUnit(r.Context(), actor(p), r.PathValue("tenant"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

func (a *API) ccPatchUnit(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.UnitPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.PatchUnit(r.Context(), actor(p), r.PathValue("tenant"), r.PathValue("unit"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccSourceSeries(kind, param string) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
		from, to, err := window(r)
		if err != nil {
			return err
		}
		if from, to, err = svc.Window(from, to, 24*time.Hour); err != nil {
			return err
		}
		v, err := svc.SourceSeries(r.Context(), r.PathValue("tenant"), kind, r.PathValue(param), from, to)
		if err != nil {
			return err
		}
		writeJSON(w, 200, v)
		return nil
	}
}

func (a *API) ccSourceMKT(kind, param string) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
		from, to, err := window(r)
		if err != nil {
			return err
		}
		if from, to, err = svc.Window(from, to, 24*time.Hour); err != nil {
			return err
		}
		v, err := svc.SourceMKT(r.Context(), r.PathValue("tenant"), kind, r.PathValue(param), from, to)
		if err != nil {
			return err
		}
		writeJSON(w, 200, v)
		return nil
	}
}

func (a *API) ccProducts(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	v, err := svc.Products(r.Context(), r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"products": nonNil(v)})
	return nil
}

func (a *API) ccProduct(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	v, err := svc.Product(r.Context(), r.PathValue("tenant"), r.PathValue("product"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccCreateProduct(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.Product
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.CreateProduct(r.Context(), actor(p), r.PathValue("tenant"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

func (a *API) ccLots(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	q := r.URL.Query()
	v, err := svc.Lots(r.Context(), r.PathValue("tenant"), q.Get("location"), q.Get("status"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"lots": nonNil(v)})
	return nil
}

func (a *API) ccLot(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	svc.Touch(actor(p))
	v, err := svc.Lot(r.Context(), r.PathValue("tenant"), r.PathValue("lot"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccCreateLot(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.LotCreate
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.CreateLot(r.Context(), actor(p), r.PathValue("tenant"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

func (a *API) ccPatchLot(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.LotPatch
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.PatchLot(r.Context(), actor(p), r.PathValue("tenant"), r.PathValue("lot"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccMoveLot(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.Move
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.MoveLot(r.Context(), actor(p), r.PathValue("tenant"), r.PathValue("lot"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccSplitLot(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.Split
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.SplitLot(r.Context(), actor(p), r.PathValue("tenant"), r.PathValue("lot"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

func (a *API) ccLotSeries(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	from, to, err := window(r)
	if err != nil {
		return err
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("lot")
	if from, to, err = svc.LotWindow(r.Context(), tenant, id, from, to); err != nil {
		return err
	}
	v, err := svc.LotSeries(r.Context(), tenant, id, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccLotMKT(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	from, to, err := window(r)
	if err != nil {
		return err
	}
	tenant, id := r.PathValue("tenant"), r.PathValue("lot")
	if from, to, err = svc.LotWindow(r.Context(), tenant, id, from, to); err != nil {
		return err
	}
	v, err := svc.LotMKT(r.Context(), tenant, id, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccShipments(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	svc.Touch(actor(p))
	v, err := svc.Shipments(r.Context(), r.PathValue("tenant"), r.URL.Query().Get("state"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"shipments": nonNil(v)})
	return nil
}

func (a *API) ccShipment(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	svc.Touch(actor(p))
	v, err := svc.Shipment(r.Context(), r.PathValue("tenant"), r.PathValue("shipment"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccCreateShipment(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.Shipment
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.CreateShipment(r.Context(), actor(p), r.PathValue("tenant"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

func (a *API) ccTransition(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.TransitionRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.TransitionShipment(r.Context(), actor(p), r.PathValue("tenant"), r.PathValue("shipment"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccTrack(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	from, to, err := window(r)
	if err != nil {
		return err
	}
	if from, to, err = svc.Window(from, to, 24*time.Hour); err != nil {
		return err
	}
	v, err := svc.Track(r.Context(), r.PathValue("tenant"), r.PathValue("shipment"), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"points": v})
	return nil
}

func (a *API) ccStudies(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	v, err := svc.MappingStudies(r.Context(), r.PathValue("tenant"), r.URL.Query().Get("unit"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, map[string]any{"studies": nonNil(v)})
	return nil
}

func (a *API) ccStudy(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	v, err := svc.MappingStudy(r.Context(), r.PathValue("tenant"), r.PathValue("study"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccCreateStudy(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.MappingStudy
	// Studies carry many readings: up to 8 MiB.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "request body too large (8 MiB at most)")
		}
		return invalid("invalid JSON body: " + err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid("invalid JSON body: trailing data after the object")
	}
	v, err := svc.CreateMappingStudy(r.Context(), actor(p), r.PathValue("tenant"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 201, v)
	return nil
}

func (a *API) ccExcursion(w http.ResponseWriter, r *http.Request, _ auth.Principal, svc ColdChain) error {
	v, err := svc.Excursion(r.Context(), r.PathValue("tenant"), r.PathValue("excursion"))
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccAck(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
	var in cc.AckRequest
	if err := decode(w, r, &in); err != nil {
		return err
	}
	v, err := svc.AckExcursion(r.Context(), actor(p), r.PathValue("tenant"), r.PathValue("excursion"), in)
	if err != nil {
		return err
	}
	writeJSON(w, 200, v)
	return nil
}

func (a *API) ccReview(kind, param string) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
		v, err := svc.Review(r.Context(), actor(p), r.PathValue("tenant"), kind, r.PathValue(param))
		if err != nil {
			return err
		}
		writeJSON(w, 200, v)
		return nil
	}
}

func (a *API) ccSign(kind, param string) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
		var in cc.SignRequest
		if err := decode(w, r, &in); err != nil {
			return err
		}
		v, err := svc.Sign(r.Context(), actor(p), r.PathValue("tenant"), kind, r.PathValue(param), in)
		if err != nil {
			return err
		}
		writeJSON(w, 201, v)
		return nil
	}
}

func (a *API) ccPDF(kind, param string) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
		b, err := svc.ReportPDF(r.Context(), actor(p), r.PathValue("tenant"), kind, r.PathValue(param))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="`+safeName(kind+"-"+r.PathValue(param))+`.pdf"`)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(b)
		return nil
	}
}

func (a *API) ccCSV(kind, param string) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return a.csvExport(kind, param, "-readings.csv", func(ctx context.Context, svc ColdChain, ac cc.Actor, tenant, id string, w io.Writer) error {
		return svc.ReportCSV(ctx, ac, tenant, kind, id, w)
	})
}

func (a *API) ccAuditCSV(kind, param string) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return a.csvExport(kind, param, "-audit.csv", func(ctx context.Context, svc ColdChain, ac cc.Actor, tenant, id string, w io.Writer) error {
		return svc.AuditCSV(ctx, ac, tenant, kind, id, w)
	})
}

// csvExport buffers the CSV so that an error can still become a JSON error response.
func (a *API) csvExport(kind, param, suffix string, f func(context.Context, ColdChain, cc.Actor, string, string, io.Writer) error) func(http.ResponseWriter, *http.Request, auth.Principal, ColdChain) error {
	return func(w http.ResponseWriter, r *http.Request, p auth.Principal, svc ColdChain) error {
		var buf bytes.Buffer
		if err := f(r.Context(), svc, actor(p), r.PathValue("tenant"), r.PathValue(param), &buf); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+safeName(kind+"-"+r.PathValue(param))+suffix+`"`)
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(buf.Bytes())
		return nil
	}
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func nonNil[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
