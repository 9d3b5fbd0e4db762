using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using PaliGemma2.DocPipeline.Api.Security;
using PaliGemma2.DocPipeline.Api.Uploads;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Pipeline.Intake;
using PaliGemma2.DocPipeline.Storage;

namespace PaliGemma2.DocPipeline.Api.Documents;

/// <summary><c>/v1/documents</c>: upload and status.</summary>
internal static class DocumentsApi
{
    public static IEndpointRouteBuilder MapDocumentsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/documents").AddEndpointFilter<ApiKeyEndpointFilter>().WithTags("Documents");
        group.MapPost("/", UploadAsync).DisableAntiforgery();
        group.MapGet("/{id:guid}", GetAsync).WithName("GetDocument");
        return app;
    }

    private static async Task<Results<Accepted<DocumentAccepted>, Ok<DocumentAccepted>, ProblemHttpResult>> UploadAsync(
        [FromQuery] string? task, HttpRequest request, DocumentIntake intake, IOptions<IntakeOptions> options, LinkGenerator links, CancellationToken ct)
    {
        if (!TaskNames.IsKnown(task))
        {
            return TypedResults.Problem(statusCode: 400, title: "Unknown task",
                detail: $"Query parameter 'task' must be one of {string.Join(", ", TaskNames.Inference)} or {TaskNames.Auto}.");
        }

        if (!request.HasFormContentType)
        {
            return TypedResults.Problem(statusCode: 415, title: "Expected multipart/form-data", detail: "Send the file as a multipart form field named 'file'.");
        }

        var max = options.Value.MaxFileBytes;
        if (request.ContentLength > max + UploadLimits.FramingAllowance)
        {
            return TooLarge(max);
        }

        IFormFile? file;
        try
        {
            // A chunked body has no Content-Length: it is counted as it arrives.
            request.Body = new LimitedStream(request.Body, max + UploadLimits.FramingAllowance);
            var form = await request.ReadFormAsync(ct).ConfigureAwait(false);
            file = form.Files.GetFile("file") ?? form.Files.FirstOrDefault();
        }
        catch (BadHttpRequestException ex)
        {
            return ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? TooLarge(max)
                : TypedResults.Problem(statusCode: ex.StatusCode, title: "Malformed request", detail: ex.Message);
        }
        catch (InvalidDataException ex)
        {
            // The form reader's words: missing or over-long boundary, over-long headers or values.
            return TypedResults.Problem(statusCode: 400, title: "Malformed multipart body", detail: ex.Message);
        }
        catch (IOException ex) when (!ct.IsCancellationRequested)
        {
            // The body ended before the closing boundary (truncated, or a boundary that never occurs).
            return TypedResults.Problem(statusCode: 400, title: "Truncated multipart body", detail: ex.Message);
        }

        if (file is null || file.Length == 0)
        {
            return TypedResults.Problem(statusCode: 400, title: "No file", detail: "The form has no non-empty file field.");
        }

        if (file.Length > max)
        {
            return TooLarge(max);
        }

        IntakeResult result;
        var stream = file.OpenReadStream();
        await using (stream.ConfigureAwait(false))
        {
            result = await intake.IngestAsync(stream, file.FileName, task!, Sources.Api, ct).ConfigureAwait(false);
        }

        var url = links.GetPathByName("GetDocument", new { id = result.DocumentId }) ?? $"/v1/documents/{result.DocumentId}";
        var body = new DocumentAccepted(result.DocumentId, result.Status.ToString().ToLowerInvariant(), url, !result.Created);
        return result.Created ? TypedResults.Accepted(url, body) : TypedResults.Ok(body);
    }

    private static ProblemHttpResult TooLarge(long max) =>
        TypedResults.Problem(statusCode: 413, title: "File too large", detail: $"The limit is {max} bytes (Intake:MaxFileBytes).");

    private static async Task<Results<Ok<DocumentView>, NotFound>> GetAsync(Guid id, DocPipelineDbContext db, CancellationToken ct)
    {
        var d = await db.Documents.AsNoTracking().Include(x => x.Pages).ThenInclude(p => p.Jobs)
            .AsSplitQuery().FirstOrDefaultAsync(x => x.Id == id, ct).ConfigureAwait(false);
        if (d is null)
        {
            return TypedResults.NotFound();
        }

        var pages = d.Pages.OrderBy(p => p.Index).Select(p => new PageView(
            p.Index, p.Width, p.Height, p.ImageBlobKey, p.TextLayer is not null,
            p.Jobs.Select(j => new JobView(j.Id, j.Task, j.Checkpoint, j.CheckpointVersion, j.Status.ToString().ToLowerInvariant(),
                j.Attempts, j.EnqueuedAt, j.StartedAt, j.FinishedAt, j.Error)).ToList())).ToList();
        var metadata = d.Metadata is null ? (JsonElement?)null : JsonDocument.Parse(d.Metadata).RootElement.Clone();
        return TypedResults.Ok(new DocumentView(d.Id, d.Sha256, d.FileName, d.MediaType, d.Source, d.Task,
            d.Status.ToString().ToLowerInvariant(), d.Error, d.ReasonCode, d.ReceivedAt, d.SizeBytes, metadata, pages));
    }
}

internal sealed record DocumentAccepted(Guid Id, string Status, string StatusUrl, bool Duplicate);

internal sealed record DocumentView(
    Guid Id, string Sha256, string? FileName, string MediaType, string Source, string Task, string Status, string? Error, string? ReasonCode,
    DateTimeOffset ReceivedAt, long SizeBytes, JsonElement? Metadata, IReadOnlyList<PageView> Pages);

internal sealed record PageView(int Index, int Width, int Height, string ImageBlobKey, bool HasTextLayer, IReadOnlyList<JobView> Jobs);

internal sealed record JobView(
    Guid Id, string Task, string Checkpoint, string? CheckpointVersion, string Status, int Attempts,
    DateTimeOffset EnqueuedAt, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string? Error);
