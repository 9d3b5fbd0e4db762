using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using PaliGemma2.DocPipeline.Api.Security;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Storage;
using PaliGemma2.DocPipeline.Storage.Blobs;
using PaliGemma2.DocPipeline.Storage.Entities;

namespace PaliGemma2.DocPipeline.Api.Review;

/// <summary>The endpoints behind the review page (<c>/review/</c>): documents, page images, depictions, corrections.</summary>
internal static class ReviewApi
{
    private const int MaxPageSize = 200;

    /// <summary>Fields a correction carries per task.</summary>
    private static readonly IReadOnlyDictionary<string, string[]> Fields = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        [TaskNames.Table] = ["html"],
        [TaskNames.Molecule] = ["smiles"],
        [TaskNames.Score] = ["kern"],
        [TaskNames.Report] = ["findings", "impression"],
    };

    public static IServiceCollection AddReviewPage(this IServiceCollection services) => services.AddOpenApi();

    /// <summary>Maps the API groups, the OpenAPI document (<c>/openapi/v1.json</c>) and the page's static files.</summary>
    public static WebApplication MapReviewApi(this WebApplication app)
    {
        app.MapOpenApi();
        // The page itself is public (it holds no data); every call it makes needs the key.
        app.UseDefaultFiles();
        app.UseStaticFiles();

        var documents = app.MapGroup("/v1/review/documents").AddEndpointFilter<ApiKeyEndpointFilter>().WithTags("Review");
        documents.MapGet("/", ListAsync).WithSummary("Documents with filters, paging and counts");
        documents.MapGet("/{id:guid}", GetAsync).WithSummary("A document per page: image, jobs, results with provenance and corrections");

        var pages = app.MapGroup("/v1/pages").AddEndpointFilter<ApiKeyEndpointFilter>().WithTags("Review");
        pages.MapGet("/{id:guid}/image", ImageAsync).WithSummary("The prepared page image (PNG) from the blob store");

        var molecules = app.MapGroup("/v1/molecules").AddEndpointFilter<ApiKeyEndpointFilter>().WithTags("Review");
        molecules.MapGet("/depiction", DepictAsync).WithSummary("SVG depiction of a SMILES by the RDKit cartridge (PostgreSQL only)");

        var results = app.MapGroup("/v1/results").AddEndpointFilter<ApiKeyEndpointFilter>().WithTags("Review");
        results.MapGet("/{id:guid}/corrections", CorrectionsAsync).WithSummary("Review history of a result, latest first");
        results.MapPost("/{id:guid}/corrections", CorrectAsync).WithSummary("Accept a result, edited or as it is; the model's output is kept")
            .WithName("PostCorrection");
        return app;
    }

    private static async Task<Ok<DocumentList>> ListAsync(
        DocPipelineDbContext db, [FromQuery] string? task, [FromQuery] string? status, [FromQuery] string? checkpoint,
        [FromQuery] bool? valid, [FromQuery] string? reason, [FromQuery] int? page, [FromQuery] int? pageSize, CancellationToken ct)
    {
        var size = Math.Clamp(pageSize ?? 25, 1, MaxPageSize);
        var number = Math.Max(page ?? 1, 1);
        var docs = db.Documents.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(task))
        {
            docs = docs.Where(d => d.Task == task);
        }

        if (!string.IsNullOrWhiteSpace(status) && Enum.TryParse<DocumentStatus>(status, ignoreCase: true, out var s))
        {
            docs = docs.Where(d => d.Status == s);
        }

        if (!string.IsNullOrWhiteSpace(checkpoint))
        {
            docs = docs.Where(d => db.Jobs.Any(j => j.DocumentId == d.Id && (j.Checkpoint == checkpoint || j.CheckpointVersion == checkpoint)));
        }

        if (valid is { } v)
        {
            docs = docs.Where(d => db.Results.Any(r => r.Valid == v && db.Jobs.Any(j => j.Id == r.JobId && j.DocumentId == d.Id)));
        }

        if (!string.IsNullOrWhiteSpace(reason))
        {
            var ids = await ReasonMatchesAsync(db, reason.Trim(), ct).ConfigureAwait(false);
            docs = docs.Where(d => ids.Contains(d.Id));
        }

        var byStatus = (await docs.GroupBy(d => d.Status).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct).ConfigureAwait(false))
            .ToDictionary(x => Lower(x.Key), x => x.Count, StringComparer.Ordinal);
        var byTask = (await docs.GroupBy(d => d.Task).Select(g => new { g.Key, Count = g.Count() }).ToListAsync(ct).ConfigureAwait(false))
            .ToDictionary(x => x.Key, x => x.Count, StringComparer.Ordinal);
        var results = from r in db.Results
                      join j in db.Jobs on r.JobId equals j.Id
                      where docs.Any(d => d.Id == j.DocumentId)
                      select r;
        var resultCount = await results.CountAsync(ct).ConfigureAwait(false);
        var validCount = await results.CountAsync(r => r.Valid, ct).ConfigureAwait(false);
        var reviewedCount = await results.CountAsync(r => db.ResultCorrections.Any(c => c.ResultId == r.Id), ct).ConfigureAwait(false);

        var rows = await docs.OrderByDescending(d => d.ReceivedAt).ThenBy(d => d.Id).Skip((number - 1) * size).Take(size)
            .Select(d => new
            {
                d.Id, d.FileName, d.Task, d.Status, d.Error, d.ReceivedAt,
                Pages = db.Pages.Count(p => p.DocumentId == d.Id),
                Results = db.Results.Count(r => db.Jobs.Any(j => j.Id == r.JobId && j.DocumentId == d.Id)),
                Invalid = db.Results.Count(r => !r.Valid && db.Jobs.Any(j => j.Id == r.JobId && j.DocumentId == d.Id)),
                Reviewed = db.Results.Count(r => db.ResultCorrections.Any(c => c.ResultId == r.Id) && db.Jobs.Any(j => j.Id == r.JobId && j.DocumentId == d.Id)),
                Checkpoints = db.Jobs.Where(j => j.DocumentId == d.Id && j.CheckpointVersion != null).Select(j => j.CheckpointVersion!).Distinct().ToList(),
            }).ToListAsync(ct).ConfigureAwait(false);

        var items = rows.Select(d => new DocumentSummary(d.Id, d.FileName, d.Task, Lower(d.Status), d.Error, d.ReceivedAt,
            d.Pages, d.Results, d.Invalid, d.Reviewed, d.Checkpoints)).ToList();
        var counts = new ReviewCounts(byStatus, byTask, resultCount, validCount, resultCount - validCount, reviewedCount);
        return TypedResults.Ok(new DocumentList(byStatus.Values.Sum(), number, size, counts, items));
    }

    /// <summary>Documents whose failure, job errors or result validation errors mention <paramref name="reason"/>.</summary>
    private static async Task<List<Guid>> ReasonMatchesAsync(DocPipelineDbContext db, string reason, CancellationToken ct)
    {
        var pattern = "%" + reason.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
        // validation_errors is jsonb on PostgreSQL: compare its text form; SQLite stores text already.
        var errorsText = db.Database.IsNpgsql() ? "r.validation_errors::text" : "r.validation_errors";
        var like = db.Database.IsNpgsql() ? "ILIKE" : "LIKE";
        var sql = $"""
            SELECT d.id FROM documents d WHERE d.error {like} @p ESCAPE '\'
            UNION SELECT j.document_id FROM jobs j WHERE j.error {like} @p ESCAPE '\'
            UNION SELECT j.document_id FROM results r JOIN jobs j ON j.id = r.job_id WHERE {errorsText} {like} @p ESCAPE '\'
            """;
        var ids = new List<Guid>();
        var conn = db.Database.GetDbConnection();
        var opened = conn.State != System.Data.ConnectionState.Open;
        if (opened)
        {
            await db.Database.OpenConnectionAsync(ct).ConfigureAwait(false);
        }

        try
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = sql;
            AddParameter(cmd, "@p", pattern);
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                ids.Add(reader.GetValue(0) is Guid g ? g : Guid.Parse(reader.GetString(0)));
            }
        }
        finally
        {
            if (opened)
            {
                await db.Database.CloseConnectionAsync().ConfigureAwait(false);
            }
        }

        return ids;
    }

    private static async Task<Results<Ok<DocumentReview>, NotFound>> GetAsync(Guid id, DocPipelineDbContext db, CancellationToken ct)
    {
        var d = await db.Documents.AsNoTracking().Include(x => x.Pages).ThenInclude(p => p.Jobs)
            .AsSplitQuery().FirstOrDefaultAsync(x => x.Id == id, ct).ConfigureAwait(false);
        if (d is null)
        {
            return TypedResults.NotFound();
        }

        var jobIds = d.Pages.SelectMany(p => p.Jobs).Select(j => j.Id).ToList();
        var results = await db.Results.AsNoTracking().Where(r => jobIds.Contains(r.JobId)).ToListAsync(ct).ConfigureAwait(false);
        var resultIds = results.Select(r => r.Id).ToList();
        var corrections = (await db.ResultCorrections.AsNoTracking().Where(c => resultIds.Contains(c.ResultId)).ToListAsync(ct).ConfigureAwait(false))
            .ToLookup(c => c.ResultId);
        var deliveries = (await db.ReportDeliveries.AsNoTracking().Where(x => resultIds.Contains(x.ResultId)).ToListAsync(ct).ConfigureAwait(false))
            .ToLookup(x => x.ResultId);
        var molecules = await MoleculeFactsAsync(db, id, ct).ConfigureAwait(false);

        ResultReview? Review(Job j)
        {
            var r = results.FirstOrDefault(x => x.JobId == j.Id);
            if (r is null)
            {
                return null;
            }

            // The delivery shown is the accepted one if any, else the latest attempt (as report_results does).
            var delivery = deliveries[r.Id].OrderBy(x => x.Status == DeliveryStatus.Sent ? 0 : 1).ThenByDescending(x => x.CreatedAt).FirstOrDefault();
            return new ResultReview(r.Id, r.Checkpoint, r.CheckpointVersion, r.PromptPrefix, r.RawText, Json(r.Payload), r.Valid,
                Json(r.ValidationErrors), r.PromptTokens, r.GeneratedTokens, r.PrefillMs, r.DecodeMs, r.CreatedAt,
                molecules.GetValueOrDefault(r.Id),
                delivery is null ? null : new DeliveryView(delivery.Destination, Lower(delivery.Status), delivery.Attempts, delivery.LastError, delivery.SrSopInstanceUid, delivery.SentAt),
                corrections[r.Id].OrderByDescending(c => c.ReviewedAt).Select(View).ToList());
        }

        var pages = d.Pages.OrderBy(p => p.Index).Select(p =>
        {
            var size = PointSize(p.TextLayer);
            return new PageReview(p.Id, p.Index, p.Width, p.Height, size?.Width, size?.Height, $"/v1/pages/{p.Id}/image",
                p.Jobs.OrderBy(j => j.Task, StringComparer.Ordinal).Select(j => new JobReview(j.Id, j.Task, j.Checkpoint, j.CheckpointVersion, Lower(j.Status),
                    j.Attempts, j.EnqueuedAt, j.StartedAt, j.FinishedAt, j.Error, Review(j))).ToList());
        }).ToList();
        return TypedResults.Ok(new DocumentReview(d.Id, d.FileName, d.MediaType, d.Source, d.Task, Lower(d.Status), d.Error, d.ReceivedAt,
            Json(d.Metadata), pages));
    }

    private static async Task<Results<FileStreamHttpResult, NotFound>> ImageAsync(Guid id, DocPipelineDbContext db, IBlobStore blobs, CancellationToken ct)
    {
        var key = await db.Pages.AsNoTracking().Where(p => p.Id == id).Select(p => p.ImageBlobKey).FirstOrDefaultAsync(ct).ConfigureAwait(false);
        if (key is null || !blobs.Exists(key))
        {
            return TypedResults.NotFound();
        }

        // Content-addressed: the bytes behind a key never change.
        return TypedResults.Stream(blobs.OpenRead(key), "image/png", entityTag: new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{key}\""));
    }

    private static async Task<Results<ContentHttpResult, ProblemHttpResult>> DepictAsync(
        DocPipelineDbContext db, [FromQuery] string? smiles, [FromQuery] int? width, [FromQuery] int? height, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(smiles) || smiles.Length > 2000)
        {
            return TypedResults.Problem(statusCode: 400, title: "No SMILES", detail: "Query parameter 'smiles' must be a SMILES string of at most 2000 characters.");
        }

        if (!db.Database.IsNpgsql())
        {
            return TypedResults.Problem(statusCode: 501, title: "No RDKit in embedded mode",
                detail: "Depictions come from the RDKit cartridge of PostgreSQL; this process uses SQLite.");
        }

        var conn = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT mol_to_svg(m, '', @w, @h)::text FROM (SELECT docpipe_parse_smiles(@s) AS m) x WHERE m IS NOT NULL";
            AddParameter(cmd, "@s", smiles.Trim());
            AddParameter(cmd, "@w", Math.Clamp(width ?? 300, 50, 1200));
            AddParameter(cmd, "@h", Math.Clamp(height ?? 220, 50, 1200));
            return await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) is string svg
                ? TypedResults.Content(svg, "image/svg+xml")
                : TypedResults.Problem(statusCode: 422, title: "RDKit cannot parse the SMILES", detail: "No depiction for a SMILES RDKit rejects.");
        }
        finally
        {
            await db.Database.CloseConnectionAsync().ConfigureAwait(false);
        }
    }

    private static async Task<Results<Ok<List<CorrectionView>>, NotFound>> CorrectionsAsync(Guid id, DocPipelineDbContext db, CancellationToken ct)
    {
        if (!await db.Results.AnyAsync(r => r.Id == id, ct).ConfigureAwait(false))
        {
            return TypedResults.NotFound();
        }

        var list = await db.ResultCorrections.AsNoTracking().Where(c => c.ResultId == id).ToListAsync(ct).ConfigureAwait(false);
        return TypedResults.Ok(list.OrderByDescending(c => c.ReviewedAt).Select(View).ToList());
    }

    private static async Task<Results<Created<CorrectionView>, NotFound, ProblemHttpResult>> CorrectAsync(
        Guid id, CorrectionRequest body, DocPipelineDbContext db, TimeProvider time, CancellationToken ct)
    {
        var result = await db.Results.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct).ConfigureAwait(false);
        if (result is null)
        {
            return TypedResults.NotFound();
        }

        var reviewer = body.Reviewer?.Trim();
        if (string.IsNullOrEmpty(reviewer) || reviewer.Length > 200)
        {
            return TypedResults.Problem(statusCode: 400, title: "No reviewer", detail: "Name the reviewer (at most 200 characters).");
        }

        if (!Fields.TryGetValue(result.Task, out var fields))
        {
            return TypedResults.Problem(statusCode: 400, title: "Unknown task", detail: $"Results of task '{result.Task}' cannot be reviewed.");
        }

        var model = JsonNode.Parse(result.Payload ?? "{}") as JsonObject ?? [];
        var accepted = new JsonObject();
        var edited = false;
        foreach (var field in fields)
        {
            var given = field switch
            {
                "html" => body.Html,
                "smiles" => body.Smiles,
                "kern" => body.Kern,
                "findings" => body.Findings,
                _ => body.Impression,
            };
            var original = model[field] is JsonValue v && v.TryGetValue<string>(out var o) ? o : null;
            var value = given ?? original;
            if (string.IsNullOrWhiteSpace(value))
            {
                return TypedResults.Problem(statusCode: 400, title: "Nothing to accept",
                    detail: $"A {result.Task} correction needs '{field}'; the model's output has none.");
            }

            edited |= !string.Equals(value, original, StringComparison.Ordinal);
            accepted[field] = value;
        }

        var correction = new ResultCorrection
        {
            Id = Guid.CreateVersion7(),
            ResultId = id,
            Task = result.Task,
            Payload = accepted.ToJsonString(),
            Edited = edited,
            ReviewedBy = reviewer,
            ReviewedAt = time.GetUtcNow(),
        };
        db.ResultCorrections.Add(correction);
        await db.SaveChangesAsync(ct).ConfigureAwait(false);
        return TypedResults.Created($"/v1/results/{id}/corrections", View(correction));
    }

    private static async Task<Dictionary<Guid, MoleculeFacts>> MoleculeFactsAsync(DocPipelineDbContext db, Guid documentId, CancellationToken ct)
    {
        var facts = new Dictionary<Guid, MoleculeFacts>();
        if (!db.Database.IsNpgsql())
        {
            return facts; // embedded mode has no RDKit: canonical form, formula and validity stay unchecked
        }

        var conn = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            await using var cmd = conn.CreateCommand();
            cmd.CommandText = "SELECT result_id, canonical_smiles, formula, is_valid FROM molecule_results WHERE document_id = @d";
            AddParameter(cmd, "@d", documentId);
            await using var reader = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                facts[reader.GetGuid(0)] = new MoleculeFacts(
                    reader.IsDBNull(1) ? null : reader.GetString(1),
                    reader.IsDBNull(2) ? null : reader.GetString(2),
                    reader.IsDBNull(3) ? null : reader.GetBoolean(3));
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync().ConfigureAwait(false);
        }

        return facts;
    }

    private static (double Width, double Height)? PointSize(string? textLayer)
    {
        if (string.IsNullOrEmpty(textLayer))
        {
            return null;
        }

        using var doc = JsonDocument.Parse(textLayer);
        var root = doc.RootElement;
        return root.TryGetProperty("width", out var w) && root.TryGetProperty("height", out var h) && w.TryGetDouble(out var wv) && h.TryGetDouble(out var hv)
            ? (wv, hv)
            : null;
    }

    private static CorrectionView View(ResultCorrection c) =>
        new(c.Id, c.ResultId, JsonDocument.Parse(c.Payload).RootElement.Clone(), c.Edited, c.ReviewedBy, c.ReviewedAt);

    private static JsonElement? Json(string? text) => text is null ? null : JsonDocument.Parse(text).RootElement.Clone();

    private static string Lower<T>(T value) where T : struct, Enum => value.ToString().ToLowerInvariant();

    private static void AddParameter(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        cmd.Parameters.Add(p);
    }
}
