using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using PaliGemma2.DocPipeline.Api.Security;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Documents.Dicom;
using PaliGemma2.DocPipeline.Pacs;
using PaliGemma2.DocPipeline.Pipeline.Intake;

namespace PaliGemma2.DocPipeline.Api.DicomWeb;

/// <summary>
/// DICOMweb STOW-RS (<c>POST /dicom-web/studies</c>, multipart/related; type="application/dicom"):
/// each part that reads as DICOM goes to intake (source pacs); the answer is the Store Instances
/// Response dataset in application/dicom+json (ReferencedSOPSequence / FailedSOPSequence + FailureReason).
/// </summary>
internal static class DicomWebApi
{
    /// <summary>Failure reason 0xC000: cannot understand (not a readable DICOM instance).</summary>
    private const int CannotUnderstand = 0xC000;

    /// <summary>Failure reason 0x0110: processing failure.</summary>
    private const int ProcessingFailure = 0x0110;

    /// <summary>Failure reason 0xA700: out of resources (instance too large).</summary>
    private const int OutOfResources = 0xA700;

    /// <summary>
    /// RFC 2046 allows 1 to 70 characters, but Orthanc's DICOMweb plugin (a STOW-RS client PACS use) sends 73:
    /// accept what real clients send, within a bound that still refuses nonsense.
    /// </summary>
    private const int MaxBoundaryLength = 200;

    public static IEndpointRouteBuilder MapDicomWebApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/dicom-web").AddEndpointFilter<ApiKeyEndpointFilter>().WithTags("DICOMweb");
        group.MapPost("/studies", StoreAsync).DisableAntiforgery();
        group.MapPost("/studies/{study}", StoreAsync).DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> StoreAsync(HttpRequest request, string? study, DocumentIntake intake, IOptions<IntakeOptions> options, ILoggerFactory loggers, CancellationToken ct)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/related", StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(statusCode: 415, title: "Expected multipart/related",
                detail: "Send instances as multipart/related; type=\"application/dicom\".");
        }

        var type = HeaderUtilities.RemoveQuotes(contentType.Parameters.FirstOrDefault(p => p.Name.Equals("type", StringComparison.OrdinalIgnoreCase))?.Value ?? default).ToString();
        if (type.Length > 0 && !type.Equals("application/dicom", StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(statusCode: 415, title: "Unsupported part type",
                detail: "Only type=\"application/dicom\" (Part 10 instances) is accepted.");
        }

        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).ToString();
        if (boundary.Length is 0 or > MaxBoundaryLength)
        {
            return Malformed($"The multipart/related content type needs a boundary of 1 to {MaxBoundaryLength} characters.");
        }

        var logger = loggers.CreateLogger("PaliGemma2.DocPipeline.Api.DicomWeb");
        // Who pushed: the API key (as a fingerprint), so write-back can send the report to that sender's DICOMweb server.
        var origin = new Dictionary<string, string>
        {
            [PacsMetadata.StowClientKey] = PacsMetadata.KeyFingerprint(request.Headers[ApiKeyEndpointFilter.Header].ToString()),
        };
        var referenced = new JsonArray();
        var failed = new JsonArray();
        var max = options.Value.MaxFileBytes;
        // The request size is Kestrel's (Intake:MaxFileBytes plus framing); each part is held to Intake:MaxFileBytes here.
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = null };
        var index = 0;
        while (true)
        {
            MultipartSection? section;
            try
            {
                section = await reader.ReadNextSectionAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsFraming(ex, ct))
            {
                logger.LogInformation("STOW-RS body unreadable after part {Index}: {Reason}", index, ex.Message);
                if (referenced.Count == 0 && failed.Count == 0)
                {
                    return Malformed(ex.Message);
                }

                failed.Add(Item(null, null, CannotUnderstand));
                break;
            }

            if (section is null)
            {
                break;
            }

            index++;
            var temp = Path.Combine(Path.GetTempPath(), $"docpipe-stow-{Guid.NewGuid():N}.dcm");
            try
            {
                var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 81920, FileOptions.DeleteOnClose);
                await using (file.ConfigureAwait(false))
                {
                    if (!await CopyAtMostAsync(section.Body, file, max, ct).ConfigureAwait(false))
                    {
                        logger.LogInformation("STOW-RS part {Index} refused: larger than {Limit} bytes", index, max);
                        failed.Add(Item(null, null, OutOfResources));
                        // The rest of the part is not read: answer now rather than drain a body this large.
                        break;
                    }

                    // A bounded managed sniff, not GDCM: a header that makes GDCM abort must not take the API down.
                    // The full header is read in the decoder sandbox during preparation.
                    file.Position = 0;
                    var head = new byte[(int)Math.Min(DicomSniffer.HeadLength, file.Length)];
                    var read = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
                    var header = MediaTypes.Sniff(head.AsSpan(0, Math.Min(read, MediaTypes.SniffLength))) == MediaTypes.Dicom
                        ? DicomSniffer.Read(head.AsSpan(0, read))
                        : new DicomIdentity("", "", "");

                    if (header.SopInstanceUid.Length == 0 || header.SopClassUid.Length == 0)
                    {
                        failed.Add(Item(header.SopClassUid, header.SopInstanceUid, CannotUnderstand));
                        continue;
                    }

                    if (study is not null && !string.Equals(study, header.StudyInstanceUid, StringComparison.Ordinal))
                    {
                        // PS3.18: an instance of another study than the one in the URL is refused.
                        failed.Add(Item(header.SopClassUid, header.SopInstanceUid, ProcessingFailure));
                        continue;
                    }

                    file.Position = 0;
                    var result = await intake.IngestAsync(file, header.SopInstanceUid + ".dcm", TaskNames.Auto, Sources.Pacs, ct, origin).ConfigureAwait(false);
                    logger.LogInformation("STOW-RS part {Index} stored as document {DocumentId} (new: {Created})", index, result.DocumentId, result.Created);
                    referenced.Add(Item(header.SopClassUid, header.SopInstanceUid, null));
                }
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                // Kestrel's request limit hit inside this part.
                logger.LogInformation("STOW-RS part {Index} refused: {Reason}", index, ex.Message);
                failed.Add(Item(null, null, OutOfResources));
                break;
            }
            catch (Exception ex) when (IsFraming(ex, ct))
            {
                // The part's body ended without its boundary: nothing more can be read.
                logger.LogInformation("STOW-RS part {Index} unreadable: {Reason}", index, ex.Message);
                if (referenced.Count == 0 && failed.Count == 0)
                {
                    return Malformed(ex.Message);
                }

                failed.Add(Item(null, null, CannotUnderstand));
                break;
            }
            finally
            {
                File.Delete(temp);
            }
        }

        var body = new JsonObject();
        if (referenced.Count > 0)
        {
            body["00081199"] = new JsonObject { ["vr"] = "SQ", ["Value"] = referenced };
        }

        if (failed.Count > 0)
        {
            body["00081198"] = new JsonObject { ["vr"] = "SQ", ["Value"] = failed };
        }

        // PS3.18 10.5.3: 200 all stored, 202 some failed, 409 none stored.
        var status = failed.Count == 0 ? StatusCodes.Status200OK : referenced.Count > 0 ? StatusCodes.Status202Accepted : StatusCodes.Status409Conflict;
        return TypedResults.Text(body.ToJsonString(), "application/dicom+json", System.Text.Encoding.UTF8, status);
    }

    /// <summary>Broken framing: a body that ends before its closing boundary, or header lines the reader refuses.</summary>
    private static bool IsFraming(Exception ex, CancellationToken ct) =>
        !ct.IsCancellationRequested && ex is InvalidDataException || (ex is IOException and not BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } && !ct.IsCancellationRequested);

    /// <summary>A body that cannot be split into instances: 400, with the failure reason a Store response would carry.</summary>
    private static ProblemHttpResult Malformed(string detail) =>
        TypedResults.Problem(statusCode: 400, title: "Malformed multipart/related body", detail: detail,
            extensions: new Dictionary<string, object?> { ["failureReason"] = CannotUnderstand });

    /// <summary>Copies at most <paramref name="limit"/> bytes; false (and the copy stops) when the source holds more.</summary>
    private static async Task<bool> CopyAtMostAsync(Stream source, Stream destination, long limit, CancellationToken ct)
    {
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            long total = 0;
            int read;
            while ((read = await source.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
            {
                total += read;
                if (total > limit)
                {
                    return false;
                }

                await destination.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
            }

            await destination.FlushAsync(ct).ConfigureAwait(false);
            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static JsonObject Item(string? sopClassUid, string? sopInstanceUid, int? failureReason)
    {
        var item = new JsonObject();
        if (!string.IsNullOrEmpty(sopClassUid))
        {
            item["00081150"] = new JsonObject { ["vr"] = "UI", ["Value"] = new JsonArray(sopClassUid) };
        }

        if (!string.IsNullOrEmpty(sopInstanceUid))
        {
            item["00081155"] = new JsonObject { ["vr"] = "UI", ["Value"] = new JsonArray(sopInstanceUid) };
        }

        if (failureReason is { } reason)
        {
            item["00081197"] = new JsonObject { ["vr"] = "US", ["Value"] = new JsonArray(reason) };
        }

        return item;
    }
}
