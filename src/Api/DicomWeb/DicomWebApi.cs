using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using PaliGemma2.DocPipeline.Api.Security;
using PaliGemma2.DocPipeline.Contracts;
using PaliGemma2.DocPipeline.Documents;
using PaliGemma2.DocPipeline.Documents.Dicom;
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

    public static IEndpointRouteBuilder MapDicomWebApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/dicom-web").AddEndpointFilter<ApiKeyEndpointFilter>().WithTags("DICOMweb");
        group.MapPost("/studies", StoreAsync).DisableAntiforgery();
        group.MapPost("/studies/{study}", StoreAsync).DisableAntiforgery();
        return app;
    }

    private static async Task<IResult> StoreAsync(HttpRequest request, string? study, DocumentIntake intake, IOptions<ApiOptions> options, ILoggerFactory loggers, CancellationToken ct)
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
        if (boundary.Length == 0)
        {
            return TypedResults.Problem(statusCode: 400, title: "No boundary", detail: "The multipart/related content type has no boundary.");
        }

        var logger = loggers.CreateLogger("PaliGemma2.DocPipeline.Api.DicomWeb");
        var referenced = new JsonArray();
        var failed = new JsonArray();
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = options.Value.MaxUploadBytes };
        var index = 0;
        while (await reader.ReadNextSectionAsync(ct).ConfigureAwait(false) is { } section)
        {
            index++;
            var temp = Path.Combine(Path.GetTempPath(), $"docpipe-stow-{Guid.NewGuid():N}.dcm");
            try
            {
                var file = new FileStream(temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 81920, FileOptions.DeleteOnClose);
                await using (file.ConfigureAwait(false))
                {
                    await section.Body.CopyToAsync(file, ct).ConfigureAwait(false);
                    await file.FlushAsync(ct).ConfigureAwait(false);
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
                    var result = await intake.IngestAsync(file, header.SopInstanceUid + ".dcm", TaskNames.Auto, Sources.Pacs, ct).ConfigureAwait(false);
                    logger.LogInformation("STOW-RS part {Index} stored as document {DocumentId} (new: {Created})", index, result.DocumentId, result.Created);
                    referenced.Add(Item(header.SopClassUid, header.SopInstanceUid, null));
                }
            }
            catch (InvalidDataException ex)
            {
                // The part exceeded the size limit or the multipart framing broke: nothing more can be read.
                logger.LogInformation("STOW-RS part {Index} refused: {Reason}", index, ex.Message);
                failed.Add(Item(null, null, OutOfResources));
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
